/* portmap.h - listening ports per network namespace, and the direction / intra-host rules
 * (SEMANTICS.md "Direction and intra-host").
 *
 * Listening ports are read from <proc_root>/net/tcp and tcp6 (state 0A, LISTEN) and from
 * <proc_root>/net/udp and udp6 (bound and unconnected: rem_address all zero, local port non-zero).
 * The files under /proc/<pid>/net show the network namespace of <pid>, so the daemon loads one
 * proc root per namespace (e.g. "/proc/1" for the host's, "/proc/<pid>" of a process inside a
 * container) together with that namespace's inode (fr_conn.netns). Kernel events then keep the
 * map current (a TCP LISTEN transition, a UDP bind/close seen by the tracer).
 *
 * A port is counted per socket: SO_REUSEPORT listeners, or separate IPv4 and IPv6 sockets, each
 * add one; the port stops listening when the count returns to zero. A load replaces what the map
 * held for that namespace and protocol with the files' contents.
 *
 * Malformed lines (wrong field count, bad hex, wrong address width) are skipped and counted; files
 * are streamed line by line, so their size does not matter.
 *
 * Threads: one thread (the enrich/writer thread) calls everything except the *_mc getters, which
 * any thread may call for telemetry.
 */
#ifndef FR_PORTMAP_H
#define FR_PORTMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <flowring/record.h>
#include <flowring/telemetry.h>

struct fr_portmap;

/* An address of this host: family FR_CONN_V4 (bytes 0..3) or FR_CONN_V6. */
struct fr_host_addr {
	uint8_t family;
	uint8_t addr[16];
};

struct fr_portmap *fr_portmap_new(void);
void fr_portmap_free(struct fr_portmap *pm);

/* (Re)load one namespace from <proc_root>/net/{tcp,tcp6,udp,udp6}. A missing file (e.g. no IPv6)
 * is not an error; a file that cannot be read otherwise is. Returns the number of listening
 * sockets found, or -errno (logged, naming the file). */
int fr_portmap_load_sp(struct fr_portmap *pm, uint32_t netns_ino, const char *proc_root);

/* Events: one socket started (add) or stopped (remove) listening on / being bound to a port.
 * Remove of a port not in the map is ignored. Return 0, -EINVAL (port 0, bad type) or -ENOMEM. */
int fr_portmap_add_sp(struct fr_portmap *pm, uint32_t netns_ino, uint8_t type, uint16_t port);
int fr_portmap_remove_sp(struct fr_portmap *pm, uint32_t netns_ino, uint8_t type, uint16_t port);

/* Forget a namespace (it was destroyed). */
void fr_portmap_drop_netns_sp(struct fr_portmap *pm, uint32_t netns_ino);

bool fr_portmap_is_listening_sp(const struct fr_portmap *pm, uint32_t netns_ino, uint8_t type, uint16_t port);

/* The host's own addresses in a namespace (replaces the previous set). Loopback (127.0.0.0/8,
 * ::1) is always local and need not be listed. Returns 0 or -ENOMEM. */
int fr_portmap_set_host_addrs_sp(struct fr_portmap *pm, uint32_t netns_ino, const struct fr_host_addr *addrs,
				 size_t n);

/* Direction of a record seen from its local end (saddr:sport is the local socket):
 *   LOCAL     daddr is loopback or one of the namespace's host addresses (both ends here, same netns);
 *   INCOMING  sport is a listening port of its protocol in its namespace;
 *   NONE      UDP without FR_CONN_F_UDP_CONNECTED and without a listening port: no guess;
 *   OUTGOING  otherwise.
 * Returns the enum fr_conn_direction value. */
uint8_t fr_portmap_direction_sp(const struct fr_portmap *pm, const struct fr_conn *c);

/* The per-record intra-host rules: saddr == daddr, or both loopback, or an unspecified source
 * (0.0.0.0 / ::, an unconnected UDP socket) sending to loopback. */
bool fr_conn_is_intra_host(const struct fr_conn *c);

/* Set direction and intra_host on one record: intra_host by the per-record rules, or because the
 * direction is LOCAL (both ends on this host). */
void fr_portmap_classify_sp(const struct fr_portmap *pm, struct fr_conn *c);

/* The batch rule: a record is also intra-host when its remote end (after NAT: the reply tuple's
 * source) is the local end (saddr:sport, same type) of another record of the batch. Sets
 * intra_host on such records of conns[0..n) and returns how many it set, or -ENOMEM. Any thread
 * (it only touches the array). progress (may be NULL) is called twice per record: a caller that
 * must not stop other work for a large batch (the daemon's snapshot build pumps ingest) does it there. */
long fr_conns_mark_intra_host(struct fr_conn *conns, size_t n, void (*progress)(void *ctx), void *ctx);

/* Counters: malformed /proc lines skipped (monotonic) and listening ports known (gauge). */
uint64_t fr_portmap_malformed_mc(const struct fr_portmap *pm);
uint64_t fr_portmap_listening_mc(const struct fr_portmap *pm);
/* PROC_LINES_MALFORMED and LISTEN_PORTS into a telemetry value array (FR_TM__COUNT entries). */
void fr_portmap_to_telemetry(const struct fr_portmap *pm, uint64_t values[FR_TM__COUNT]);

#endif /* FR_PORTMAP_H */
