/* nat.h - NAT translations from conntrack (libnetfilter_conntrack over libmnl), for fr_conn.nat.
 *
 * At open: a netlink socket joined to the conntrack NEW and DESTROY event groups, then a dump of the
 * table on a second socket (events that race the dump are applied after it, so nothing is missed).
 * Only entries whose reply tuple is not the mirror of the original (i.e. NAT'd), TCP or UDP, are kept,
 * indexed both ways in two ck_hs tables: by original tuple and by reply tuple. A connection that
 * matches an original tuple gets the reply tuple as its translation; one that matches a reply tuple
 * gets the original tuple (as the reference tracer does). Capped; an ENOBUFS overrun on the event
 * socket is counted and followed by a resync dump that also retires entries whose DESTROY was lost.
 *
 * Lifetime: an entry goes at once when its connection closes (fr_nat_conn_closed). A conntrack
 * DESTROY (or absence from a resync dump) only retires it for destroy_grace_ms: conntrack often
 * destroys a short connection's entry before the tracer's close record for it has been ingested
 * (seen here: DESTROY within milliseconds of close(), the ring buffer drained every few ms), and
 * that record must still get its translation. Retired entries are swept in FIFO order.
 *
 * Contract: single thread. Every function is called from the daemon thread that reads the netlink
 * socket; lookups come from that thread too, so entries are freed at once. (Readers on other
 * threads would need ck_epoch-deferred frees and ck_hs's SPMC get: not provided.)
 */
#ifndef FR_NAT_H
#define FR_NAT_H

#include <stddef.h>
#include <stdint.h>

#include <flowring/record.h>
#include <flowring/telemetry.h>

struct nlmsghdr;
struct fr_nat;

#define FR_NAT_DEFAULT_MAX 65536u

struct fr_nat_opts {
	uint32_t max_entries;   /* 0: FR_NAT_DEFAULT_MAX */
	uint32_t rcvbuf;        /* event socket receive buffer bytes; 0: 8 MiB (SO_RCVBUFFORCE, else SO_RCVBUF) */
	int dump_timeout_ms;    /* per receive during a dump; 0: 5000 */
	int no_netlink;         /* 1: no sockets at all, only fr_nat_ingest_msg() (tests, --no-conntrack) */
	int destroy_grace_ms;   /* keep a destroyed entry this long; 0: FR_NAT_DEFAULT_GRACE_MS, < 0: none */
};

#define FR_NAT_DEFAULT_GRACE_MS 10000

/* Open (and dump) as described above. Returns NULL with errno set: EPERM without CAP_NET_ADMIN,
 * EPROTONOSUPPORT when nf_conntrack_netlink is missing, ENOMEM. */
struct fr_nat *fr_nat_open(const struct fr_nat_opts *opts);

/* The event socket's fd for the daemon's loop (POLLIN), or -1 with no_netlink. */
int fr_nat_fd(const struct fr_nat *n);

/* Drain the event socket without blocking (until EAGAIN), and sweep retired entries whose grace is
 * over. On ENOBUFS: count an overrun and resync (a blocking dump, milliseconds for thousands of
 * entries). Returns 0, or a negative errno for a socket failure (the caller may close and reopen). */
int fr_nat_on_readable(struct fr_nat *n);

/* Dump the conntrack table again and retire entries that are no longer in it (counted as a resync). */
int fr_nat_resync(struct fr_nat *n);

/* Apply one ctnetlink message (IPCTNL_MSG_CT_NEW or _DELETE; others are ignored). Returns 0, or
 * -EBADMSG if libnetfilter_conntrack cannot parse it. */
int fr_nat_ingest_msg(struct fr_nat *n, const struct nlmsghdr *nlh);

/* Fill c->nat and set FR_CONN_F_NAT when c's tuple (type, family, saddr, sport, daddr, dport) is a
 * NAT'd conntrack entry, either direction. Returns 0 if translated, -ENOENT otherwise (c untouched). */
int fr_nat_lookup(struct fr_nat *n, struct fr_conn *c);

/* The connection closed: forget its entry (if any), whichever direction c matches. */
void fr_nat_conn_closed(struct fr_nat *n, const struct fr_conn *c);

/* Entries held now. */
size_t fr_nat_count(const struct fr_nat *n);

/* FR_TM_CONNTRACK_REGISTERS, _REGISTERS_DROPPED, _ENTRIES (gauge), _OVERRUNS, _RESYNCS, _TRANSLATED;
 * 0 for any other id. */
uint64_t fr_nat_counter(const struct fr_nat *n, enum fr_telemetry_id id);

/* Close the sockets and free every entry. NULL is a no-op. */
void fr_nat_close(struct fr_nat *n);

#endif /* FR_NAT_H */
