/* flowring/record.h - the connection record, as it travels through every flowring ring.
 *
 * Part of the flowring wire format (ABI major 1). Shared by the producer (flowringd), the BPF
 * user side and the consumer SDK. Only fixed-width types, explicit padding and reserved bytes;
 * every offset is checked at compile time below, so a change here is an ABI change.
 *
 * Layout of struct fr_conn (240 bytes, 8-byte aligned):
 *
 *   off size field                       meaning
 *     0  16  saddr                       source address, network byte order; IPv4 in bytes 0..3,
 *                                         rest zero (v4-mapped IPv6 is folded to IPv4)
 *    16  16  daddr                       destination address, same encoding
 *    32   8  monotonic_sent_bytes        application bytes sent over the connection's life
 *    40   8  last_sent_bytes             sent bytes since this client's previous read
 *    48   8  monotonic_recv_bytes        application bytes received
 *    56   8  last_recv_bytes             received bytes since the previous read
 *    64   8  monotonic_sent_packets      packets (TCP segments / UDP datagrams) sent
 *    72   8  last_sent_packets
 *    80   8  monotonic_recv_packets
 *    88   8  last_recv_packets
 *    96   8  last_update_ns              seed's LastUpdateEpoch: CLOCK_MONOTONIC ns of the last update
 *   104   8  start_ns                    CLOCK_MONOTONIC ns the connection was first seen
 *   112   8  end_ns                      CLOCK_MONOTONIC ns it closed; 0 while active
 *   120   8  cookie                      socket cookie (bpf_get_socket_cookie), unique per boot
 *   128   8  dns_success_latency_sum     ns, summed over successful DNS responses
 *   136   8  dns_failure_latency_sum     ns, summed over failed DNS responses
 *   144   4  monotonic_retransmits       TCP total_retrans
 *   148   4  last_retransmits
 *   152   4  rtt_us                      smoothed RTT in microseconds (srtt_us >> 3)
 *   156   4  rtt_var_us                  RTT variance in microseconds (mdev_us >> 2)
 *   160   4  pid                         owning process (tgid)
 *   164   4  netns                       network namespace inode
 *   168   4  dns_successful_responses
 *   172   4  dns_failed_responses
 *   176   4  dns_timeouts
 *   180   4  flags                       FR_CONN_F_* below
 *   184   2  sport                       host byte order
 *   186   2  dport                       host byte order
 *   188   1  type                        enum fr_conn_type
 *   189   1  family                      enum fr_conn_family
 *   190   1  direction                   enum fr_conn_direction
 *   191   1  intra_host                  0 or 1
 *   192  40  nat                         struct fr_ip_translation, valid iff FR_CONN_F_NAT
 *   232   8  resv                        zero; reserved for minor versions
 */
#ifndef FLOWRING_RECORD_H
#define FLOWRING_RECORD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Enum values are the seed's and are part of the ABI and of the JSON output. */
enum fr_conn_type { FR_CONN_TCP = 0, FR_CONN_UDP = 1 };
enum fr_conn_family { FR_CONN_V4 = 0, FR_CONN_V6 = 1 };
enum fr_conn_direction {
	FR_DIR_UNKNOWN = 0, /* not yet classified (kernel side) */
	FR_DIR_INCOMING = 1,
	FR_DIR_OUTGOING = 2,
	FR_DIR_LOCAL = 3,
	FR_DIR_NONE = 4,
};

/* fr_conn.flags */
#define FR_CONN_F_CLOSED (1u << 0)         /* the connection has closed (end_ns is set) */
#define FR_CONN_F_FAILED_CONNECT (1u << 1) /* TCP SYN_SENT -> CLOSE: never established */
#define FR_CONN_F_NAT (1u << 2)            /* nat holds a conntrack translation */
#define FR_CONN_F_SEEDED (1u << 3)         /* existed before the producer started (iter/tcp, iter/udp) */
#define FR_CONN_F_IDLE_CLOSED (1u << 4)    /* UDP flow closed by the idle timeout, not by close() */
#define FR_CONN_F_MERGED (1u << 5)         /* several connections under one key were summed */
#define FR_CONN_F_UDP_CONNECTED (1u << 6)  /* UDP socket was connect()ed */
#define FR_CONN_F_LISTENER_SIDE (1u << 7)  /* accepted socket (server side of TCP) */

struct fr_ip_translation {
	uint8_t repl_saddr[16];
	uint8_t repl_daddr[16];
	uint16_t repl_sport;
	uint16_t repl_dport;
	uint32_t resv;
};

struct fr_conn {
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint64_t monotonic_sent_bytes;
	uint64_t last_sent_bytes;
	uint64_t monotonic_recv_bytes;
	uint64_t last_recv_bytes;
	uint64_t monotonic_sent_packets;
	uint64_t last_sent_packets;
	uint64_t monotonic_recv_packets;
	uint64_t last_recv_packets;
	uint64_t last_update_ns;
	uint64_t start_ns;
	uint64_t end_ns;
	uint64_t cookie;
	uint64_t dns_success_latency_sum;
	uint64_t dns_failure_latency_sum;
	uint32_t monotonic_retransmits;
	uint32_t last_retransmits;
	uint32_t rtt_us;
	uint32_t rtt_var_us;
	uint32_t pid;
	uint32_t netns;
	uint32_t dns_successful_responses;
	uint32_t dns_failed_responses;
	uint32_t dns_timeouts;
	uint32_t flags;
	uint16_t sport;
	uint16_t dport;
	uint8_t type;
	uint8_t family;
	uint8_t direction;
	uint8_t intra_host;
	struct fr_ip_translation nat;
	uint8_t resv[8];
};

#define FR_CONN_SIZE 240u

#if defined(__cplusplus)
#define FR__STATIC_ASSERT static_assert
#else
#define FR__STATIC_ASSERT _Static_assert
#endif

FR__STATIC_ASSERT(sizeof(struct fr_ip_translation) == 40, "fr_ip_translation size");
FR__STATIC_ASSERT(sizeof(struct fr_conn) == FR_CONN_SIZE, "fr_conn size");
FR__STATIC_ASSERT(offsetof(struct fr_conn, daddr) == 16, "daddr");
FR__STATIC_ASSERT(offsetof(struct fr_conn, monotonic_sent_bytes) == 32, "monotonic_sent_bytes");
FR__STATIC_ASSERT(offsetof(struct fr_conn, last_sent_bytes) == 40, "last_sent_bytes");
FR__STATIC_ASSERT(offsetof(struct fr_conn, monotonic_recv_bytes) == 48, "monotonic_recv_bytes");
FR__STATIC_ASSERT(offsetof(struct fr_conn, last_recv_bytes) == 56, "last_recv_bytes");
FR__STATIC_ASSERT(offsetof(struct fr_conn, monotonic_sent_packets) == 64, "monotonic_sent_packets");
FR__STATIC_ASSERT(offsetof(struct fr_conn, last_sent_packets) == 72, "last_sent_packets");
FR__STATIC_ASSERT(offsetof(struct fr_conn, monotonic_recv_packets) == 80, "monotonic_recv_packets");
FR__STATIC_ASSERT(offsetof(struct fr_conn, last_recv_packets) == 88, "last_recv_packets");
FR__STATIC_ASSERT(offsetof(struct fr_conn, last_update_ns) == 96, "last_update_ns");
FR__STATIC_ASSERT(offsetof(struct fr_conn, start_ns) == 104, "start_ns");
FR__STATIC_ASSERT(offsetof(struct fr_conn, end_ns) == 112, "end_ns");
FR__STATIC_ASSERT(offsetof(struct fr_conn, cookie) == 120, "cookie");
FR__STATIC_ASSERT(offsetof(struct fr_conn, dns_success_latency_sum) == 128, "dns_success_latency_sum");
FR__STATIC_ASSERT(offsetof(struct fr_conn, dns_failure_latency_sum) == 136, "dns_failure_latency_sum");
FR__STATIC_ASSERT(offsetof(struct fr_conn, monotonic_retransmits) == 144, "monotonic_retransmits");
FR__STATIC_ASSERT(offsetof(struct fr_conn, last_retransmits) == 148, "last_retransmits");
FR__STATIC_ASSERT(offsetof(struct fr_conn, rtt_us) == 152, "rtt_us");
FR__STATIC_ASSERT(offsetof(struct fr_conn, rtt_var_us) == 156, "rtt_var_us");
FR__STATIC_ASSERT(offsetof(struct fr_conn, pid) == 160, "pid");
FR__STATIC_ASSERT(offsetof(struct fr_conn, netns) == 164, "netns");
FR__STATIC_ASSERT(offsetof(struct fr_conn, dns_successful_responses) == 168, "dns_successful_responses");
FR__STATIC_ASSERT(offsetof(struct fr_conn, dns_failed_responses) == 172, "dns_failed_responses");
FR__STATIC_ASSERT(offsetof(struct fr_conn, dns_timeouts) == 176, "dns_timeouts");
FR__STATIC_ASSERT(offsetof(struct fr_conn, flags) == 180, "flags");
FR__STATIC_ASSERT(offsetof(struct fr_conn, sport) == 184, "sport");
FR__STATIC_ASSERT(offsetof(struct fr_conn, dport) == 186, "dport");
FR__STATIC_ASSERT(offsetof(struct fr_conn, type) == 188, "type");
FR__STATIC_ASSERT(offsetof(struct fr_conn, family) == 189, "family");
FR__STATIC_ASSERT(offsetof(struct fr_conn, direction) == 190, "direction");
FR__STATIC_ASSERT(offsetof(struct fr_conn, intra_host) == 191, "intra_host");
FR__STATIC_ASSERT(offsetof(struct fr_conn, nat) == 192, "nat");
FR__STATIC_ASSERT(offsetof(struct fr_conn, resv) == 232, "resv");

#ifdef __cplusplus
}
#endif

#endif /* FLOWRING_RECORD_H */
