/* state.h - per-client connection state: the seed's State, with SEMANTICS.md's rules.
 *
 * For every registered client the state remembers, per connection key, the monotonic counters it
 * last reported to that client (sent/recv bytes, retransmits, sent/recv packets), and buffers the
 * connections closed since that client's last read. A read merges the buffer with the active
 * connections the caller passes, computes last_x deltas, and hands the records to a sink one by one.
 *
 * Threads (DESIGN §4): ONE writer thread owns the state and calls every *_sp function (create,
 * register, store, read, remove, expire, destroy); a read mutates the client's memory, so it is a
 * writer operation too. Any other thread may call the *_mc functions (stats, dump, client lookups)
 * at any time, without locks: tables are Concurrency Kit ck_hs sets (single writer, many readers);
 * removed objects are freed through ck_epoch after every reader section that could see them ended.
 * Readers register an epoch record lazily (ck_epoch_recycle/register) and give it back when done.
 *
 * Memory: a closed record is stored once, compactly encoded (key + varints, ~60-80 B for IPv4),
 * in a shared chunked arena whose chunks are reference counted; each client that buffers it holds
 * one pointer in its closed ck_hs. Merging a newer record into a buffered one copies (copy-on-merge).
 * fr_state_stats.mem_bytes counts every byte the state allocated (arena chunks, tables, entries).
 *
 * Times are CLOCK_MONOTONIC nanoseconds given by the caller (tests inject them; nothing sleeps).
 * Every counter of fr_state_stats is monotonic for the life of the state; reading never resets it.
 */
#ifndef FR_STATE_H
#define FR_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <flowring/record.h>
#include <flowring/telemetry.h>

#include "conn_key.h"

#define FR_STATE_CLIENT_ID_MAX 64u /* id length limit, NUL included */
#define FR_STATE_DEBUG_CLIENT "-1" /* the seed's DEBUGCLIENT */
#define FR_STATE_DEFAULT_MAX_CLOSED 10000u
#define FR_STATE_DEFAULT_MAX_TRACKED 100000u
#define FR_STATE_DEFAULT_MAX_CLIENTS 64u
#define FR_STATE_DEFAULT_CLIENT_EXPIRY_NS (120ull * 1000000000ull)

struct fr_state_config {
	uint32_t max_closed;        /* buffered closed records per client; 0 = default 10000 */
	uint32_t max_tracked;       /* remembered keys per client; 0 = default 100000 */
	uint32_t max_clients;       /* registered clients; 0 = default 64 */
	uint64_t client_expiry_ns;  /* expire clients that did not read for this long; 0 = default 2 min */
};

/* Counters (monotonic) and gauges (*_current); see telemetry.h for the names they are published as. */
struct fr_state_stats {
	uint64_t stats_resets;         /* a counter went backwards: key memory reset */
	uint64_t unordered_conns;      /* closed record older than (or as old as) the buffered one: skipped */
	uint64_t closed_dropped;       /* closed record not buffered: client buffer at max_closed */
	uint64_t conn_dropped;         /* key not remembered: client table at max_tracked */
	uint64_t time_sync_collisions; /* closed and active record with equal last_update_ns */
	uint64_t dns_stats_dropped;    /* counted for the DNS module (fr_state_count_dns_dropped_sp) */
	uint64_t clients_registered;
	uint64_t clients_expired;
	uint64_t clients_removed;      /* fr_state_remove_client_sp, expiry not included */
	uint64_t closed_stored;        /* closed records given to fr_state_store_closed_sp */
	uint64_t closed_merged;        /* closed records summed into a buffered one (per client) */
	uint64_t records_emitted;      /* records handed to read sinks */
	uint64_t emit_failed;          /* records not handed to a sink because it had failed in that read */
	uint64_t clients_current;      /* gauge */
	uint64_t closed_buffered_current; /* gauge: buffered closed references, all clients */
	uint64_t tracked_current;      /* gauge: remembered keys, all clients */
	uint64_t arena_bytes_current;  /* gauge: bytes of closed-record arena chunks */
	uint64_t mem_bytes_current;    /* gauge: every byte the state allocated */
};

/* One client, as fr_state_stats_mc reports it. */
struct fr_state_client_stats {
	char id[FR_STATE_CLIENT_ID_MAX];
	uint64_t tracked;       /* remembered keys */
	uint64_t closed;        /* buffered closed records */
	uint64_t registered_ns;
	uint64_t last_read_ns;  /* 0 until the first read */
	uint64_t reads;
};

/* Totals remembered for one key of one client (DumpState). */
struct fr_state_totals {
	uint64_t sent_bytes;
	uint64_t recv_bytes;
	uint64_t sent_packets;
	uint64_t recv_packets;
	uint32_t retransmits;
};

struct fr_state;

/* Sink of a read: called once per output record, in the writer thread, while the read runs. The
 * record is valid only during the call (copy it out, e.g. into a shared-memory snapshot slot).
 * Return 0 to continue; a non-zero return stops further calls (see fr_state_read_sp). */
typedef int (*fr_state_emit_fn)(void *ctx, const struct fr_conn *conn);

/* Create a state; cfg may be NULL (all defaults). The calling thread becomes the writer.
 * Returns NULL with errno set (ENOMEM, EINVAL). */
struct fr_state *fr_state_new_sp(const struct fr_state_config *cfg);

/* Destroy: the writer only, after every reader thread stopped calling *_mc. NULL is a no-op. */
void fr_state_free_sp(struct fr_state *st);

/* Register a client at now_ns: from now on closed connections are buffered for it, and its first
 * read reports last_x = monotonic_x. id: 1..63 printable characters ("-1" is the debug client).
 * Returns 0, -EEXIST (already registered), -EINVAL (bad id), -ENOSPC (max_clients), -ENOMEM. */
int fr_state_register_sp(struct fr_state *st, const char *client_id, uint64_t now_ns);

/* Remove a client and all its state at once. Returns 0 or -ENOENT. */
int fr_state_remove_client_sp(struct fr_state *st, const char *client_id);

/* Remove every client whose last read (or registration, if it never read) is at least
 * client_expiry_ns before now_ns: now_ns - last >= expiry. Returns the number removed. */
int fr_state_expire_sp(struct fr_state *st, uint64_t now_ns);

/* Store one closed connection (end_ns set) for every registered client (SEMANTICS.md): appended to
 * each client's buffer; if that buffer holds the key, a newer record (last_update_ns greater) is
 * summed into it (time of the newer one kept), an older or equal one is skipped and counted as
 * unordered; a full buffer drops the new record and counts it (others are never evicted).
 * The record is not modified; v4-mapped addresses are folded in the key (not in the record).
 * Returns the number of clients that buffered or merged it, or -ENOMEM. */
int fr_state_store_closed_sp(struct fr_state *st, const struct fr_conn *closed);

/* Upper bound of the records the next fr_state_read_sp for this client will emit with n_active
 * active connections: n_active + buffered closed records. Lets the caller size a snapshot first.
 * Returns the bound, or -ENOENT. */
long fr_state_read_bound_sp(struct fr_state *st, const char *client_id, size_t n_active);

/* Read: the snapshot for a client at now_ns given the active connections (end_ns = 0, e.g. from
 * the BPF maps; the array is not modified). Emits, through emit(ctx, rec):
 *   - each buffered closed record, merged with the active record of the same key if any (closed
 *     newer or equal time: the closed one, equal counted as a time-sync collision; active newer:
 *     one record = the closed one with monotonic counters closed + active and FR_CONN_F_MERGED);
 *   - each active record not merged;
 * with last_x = monotonic_x - remembered_x (monotonic_x when the key was never remembered, or when
 * a counter went backwards: then counted as a stats reset). Afterwards the client remembers the
 * reported monotonic values of the active keys (for a merge: the active record's own values),
 * forgets every other key, and its closed buffer is empty. Records are emitted active first, in
 * array order, then the unmatched closed ones. At most fr_state_read_bound_sp(..., n_active) records.
 * max_tracked: the keys kept are those still active that were remembered, then new keys in array
 * order while they fit; a key that does not fit is reported (last_x = monotonic_x) but not
 * remembered, and counted in conn_dropped at each read.
 * If emit returns non-zero, the read still completes its state transition (so the state never
 * half-applies a read) but calls emit no more; the skipped records are counted in emit_failed and
 * the emit's value is returned (as -EIO if it was positive).
 * Returns the number of records emitted, -ENOENT (unknown client), -EINVAL, or the emit error. */
long fr_state_read_sp(struct fr_state *st, const char *client_id, uint64_t now_ns, const struct fr_conn *active,
		      size_t n_active, fr_state_emit_fn emit, void *ctx);

/* RemoveConnections: forget these keys' memory for every client (buffered closed records stay).
 * Returns the number of (client, key) memories removed. */
long fr_state_remove_conns_sp(struct fr_state *st, const struct fr_conn_key *keys, size_t n);

/* Count DNS stats the DNS module had to drop (the counter lives here with the seed's others). */
void fr_state_count_dns_dropped_sp(struct fr_state *st, uint64_t n);

/* Run deferred frees whose grace period is over (also done by every read and expiry). */
void fr_state_reclaim_sp(struct fr_state *st);

/* Stats from any thread: counters into *out; if client_cb is non-NULL it is called once per
 * registered client (inside an epoch section: do not call back into the state from it); a
 * non-zero return stops the walk and is returned. Returns 0, -ENOMEM (no epoch record), or cb's value. */
int fr_state_stats_mc(struct fr_state *st, struct fr_state_stats *out,
		      int (*client_cb)(void *ctx, const struct fr_state_client_stats *c), void *ctx);

/* DumpState from any thread: for each key the client remembers, cb(ctx, BeautifyKey text, totals).
 * Returns 0, -ENOENT (no such client), -ENOMEM, or cb's non-zero value. */
int fr_state_dump_mc(struct fr_state *st, const char *client_id,
		     int (*cb)(void *ctx, const char *key_text, const struct fr_state_totals *t), void *ctx);

/* Whether a client is registered, from any thread. */
bool fr_state_has_client_mc(struct fr_state *st, const char *client_id);

/* Copy the counters into a telemetry value array indexed by enum fr_telemetry_id (FR_TM__COUNT
 * entries): STATS_RESETS, UNORDERED_CONNS, CLOSED_DROPPED, CONN_DROPPED, TIME_SYNC_COLLISIONS,
 * DNS_STATS_DROPPED, CLIENTS_REGISTERED, CLIENTS_EXPIRED, CLIENTS_CURRENT. Other entries untouched. */
void fr_state_stats_to_telemetry(const struct fr_state_stats *s, uint64_t values[FR_TM__COUNT]);

#endif /* FR_STATE_H */
