/* cli_conns_snap.c - how `flowring conns` gets a client's snapshot (see cli_conns_snap.h).
 *
 * On request: SNAPSHOT(id) over the control socket makes flowringd publish the client's view into its
 * snapshot region and name the snapshot number; we copy exactly that snapshot out of the region (the
 * seqlock says whether the copy is intact). Periodic (--publish-interval): flowringd publishes on its
 * own tick and we wait for each one (fr_snapshot_wait). Copying out, not printing from shared memory,
 * keeps a slow terminal from ever showing a torn record.
 */
#include <flowring/flowring.h> /* first: it selects _DEFAULT_SOURCE */

#include "cli_conns_snap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "control_client.h"

#define FR_CLI_SNAPSHOT_WAIT_MS 3000 /* from the SNAPSHOT reply to the snapshot being visible */
#define FR_CLI_ROUND_RETRIES 3       /* a snapshot overwritten before we copied it: ask again */

static uint64_t fr_cli_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* GCC's TSan does not model fences and warns (-Wtsan); the fence is what the seqlock needs (as in
 * the SDK), and every shared word here is read atomically, so TSan has nothing to miss. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
static inline void fr_cli_fence_acq(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* Records are copied as 64-bit words and then read as struct fr_conn fields. */
typedef uint64_t __attribute__((may_alias)) fr_cli_u64a;

/* Copy snapshot number n out of the region (the SDK's view API only offers the newest one, and a
 * periodic publish may already have committed n+1). Same seqlock protocol as fr_snapshot_copy():
 * FR_OK; FR_AGAIN (not committed yet); FR_NEW_GENERATION; FR_CORRUPT; -ESTALE (already
 * overwritten); -ENOMEM. */
static int fr_cli_snap_read_n(struct fr_cli_snap *c, uint64_t n)
{
	const struct fr_snapshot_reader *r = &c->r;
	const struct fr_region_header *h = r->region.hdr;

	for (int i = 0; i < FLOWRING_MAX_RETRIES; i++) {
		/* acquire: pairs with the producer's release store of RETIRED */
		if (__atomic_load_n(&h->state, __ATOMIC_ACQUIRE) == FR_STATE_RETIRED)
			return FR_NEW_GENERATION;
		/* acquire: pairs with the commit's release store of head */
		if (__atomic_load_n(&h->head, __ATOMIC_ACQUIRE) < n)
			return FR_AGAIN;
		const struct fr_snapshot_slot *s =
			(const struct fr_snapshot_slot *)(const void *)(r->slots + (n % r->nslots) * r->slot_bytes);
		/* acquire: pairs with the commit's release store of the even sequence */
		if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != 2u * n)
			return -ESTALE;
		uint64_t count = __atomic_load_n(&s->count, __ATOMIC_RELAXED);
		uint64_t snap = __atomic_load_n(&s->snap_seq, __ATOMIC_RELAXED);
		uint64_t rt = __atomic_load_n(&s->read_time_ns, __ATOMIC_RELAXED);
		if (count > r->capacity || snap != n) {
			fr_cli_fence_acq(); /* pairs with the writer's release fence after the odd store */
			if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != 2u * n)
				return -ESTALE;
			return FR_CORRUPT;
		}
		if (count > c->cap) {
			struct fr_conn *nb = realloc(c->buf, (size_t)count * sizeof(*nb));
			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap = count;
		}
		const fr_cli_u64a *src =
			(const fr_cli_u64a *)(const void *)((const unsigned char *)s + FR_SNAPSHOT_SLOT_HEADER_SIZE);
		fr_cli_u64a *dst = (fr_cli_u64a *)(void *)c->buf;
		/* relaxed word loads: the slot may be rewritten under us; the re-check below decides */
		for (uint64_t k = 0; k < count * (FR_CONN_SIZE / 8u); k++)
			dst[k] = __atomic_load_n(&src[k], __ATOMIC_RELAXED);
		fr_cli_fence_acq(); /* pairs with the writer's release fence after the odd store */
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != 2u * n)
			return -ESTALE;
		c->count = count;
		c->snap_seq = n;
		c->prev_read_time_ns = c->read_time_ns;
		c->read_time_ns = rt;
		return FR_OK;
	}
	return -ESTALE;
}

/* Map the client's region, or the file now under its name when ours is retired or older than the
 * generation the daemon named (a re-registered client starts again at generation 1, so "retired"
 * and "older" are separate tests). FR_OK; FR_NOT_READY when no such file is there (the client
 * was removed since the reply, or --shm-dir/--instance differ from the daemon's); FR_* / -errno. */
static int fr_cli_snap_map(struct fr_cli_snap *c, uint64_t generation)
{
	int st;

	/* acquire: pairs with the producer's release store of RETIRED */
	if (c->open && c->r.region.generation >= generation &&
	    __atomic_load_n(&c->r.region.hdr->state, __ATOMIC_ACQUIRE) != FR_STATE_RETIRED)
		return FR_OK;
	if (c->open) {
		st = fr_snapshot_reopen(&c->r);
	} else {
		st = fr_snapshot_open(&c->r, c->g->shm_dir, c->g->instance, c->client);
		c->open = st == FR_OK;
	}
	if (st == FR_OK && c->r.region.generation < generation)
		st = FR_NOT_READY;
	return st;
}

static void fr_cli_snap_map_failed(const struct fr_cli_snap *c, int st)
{
	char path[FLOWRING_PATH_MAX];

	fr_region_path(path, sizeof(path), c->g->shm_dir, c->g->instance, c->client);
	fprintf(stderr, "flowring conns: cannot map the snapshot region %s: %s\n", path, fr_status_str(st));
	if (st == FR_NOT_READY)
		fprintf(stderr, "flowring conns: flowringd answered on its socket but the region is not there: "
				"do --shm-dir and --instance match the daemon's?\n");
}

/* REGISTER with this run's publish interval (0 unless --publish-interval). Returns 0, or -errno after
 * printing why; *generation (may be NULL) gets the client's region generation. */
int fr_cli_snap_register(struct fr_cli_snap *c, uint64_t *generation)
{
	struct fr_ctl_msg reply;
	int rc = fr_ctl_client_register(c->fd, c->client, (int64_t)c->publish_ms, &reply, FR_CLI_CTL_TIMEOUT_MS);

	if (rc == 0) {
		if (reply.u.reg.created)
			c->created = true;
		if (generation)
			*generation = reply.u.reg.generation;
		return 0;
	}
	if (rc == -EREMOTEIO && reply.u.err.code == FR_CTL_E_BAD_PAYLOAD)
		fprintf(stderr, "flowring conns: flowringd refused to register '%s' with a publish interval: it is "
				"older than this CLI (upgrade flowringd)\n", c->client);
	else
		fr_cli_ctl_report(c->g, rc, &reply, FR_CTL_REGISTER, c->client);
	return rc;
}

/* One round: request a snapshot and copy it out. FR_CLI_OK or FR_CLI_FAIL (printed). */
int fr_cli_snap_round(struct fr_cli_snap *c)
{
	for (int attempt = 0; attempt < FR_CLI_ROUND_RETRIES; attempt++) {
		struct fr_ctl_msg reply;
		int code, st;
		int rc = fr_cli_ctl_request(c->g, c->fd, FR_CTL_SNAPSHOT, c->client, &reply, &code, true);
		if (rc == -EREMOTEIO && code == FR_CTL_E_NO_CLIENT) {
			/* expired (not read for too long) or unregistered by another run: register again */
			if (fr_cli_snap_register(c, NULL) != 0)
				return FR_CLI_FAIL;
			continue;
		}
		if (rc != 0)
			return FR_CLI_FAIL;
		uint64_t n = reply.u.snap.seq;
		uint64_t start = fr_cli_now_ns();
		st = fr_cli_snap_map(c, reply.u.snap.generation);
		if (st == FR_NOT_READY && attempt + 1 < FR_CLI_ROUND_RETRIES)
			continue;
		if (st != FR_OK) {
			fr_cli_snap_map_failed(c, st);
			return FR_CLI_FAIL;
		}
		for (;;) {
			st = fr_cli_snap_read_n(c, n);
			if (st == FR_OK)
				return FR_CLI_OK;
			if (st == -ESTALE)
				break; /* published again before we copied it: ask for a fresh one */
			if (fr_cli_now_ns() - start > FR_CLI_SNAPSHOT_WAIT_MS * 1000000ull) {
				fprintf(stderr, "flowring conns: snapshot %" PRIu64 " did not appear in %s within %d ms\n",
					n, c->r.region.path, FR_CLI_SNAPSHOT_WAIT_MS);
				return FR_CLI_FAIL;
			}
			if (st == FR_AGAIN) {
				st = fr_snapshot_wait(&c->r, n - 1u, 100);
				if (st == FR_OK || st == FR_TIMED_OUT || st == FR_PRODUCER_STALE)
					continue;
			}
			if (st == FR_NEW_GENERATION) {
				/* regrown: the newer file already holds snapshot n (the daemon renames it over
				 * the name before retiring ours); no file: the client was removed meanwhile,
				 * so ask again (and register again) */
				st = fr_snapshot_reopen(&c->r);
				if (st == FR_OK)
					continue;
				fr_snapshot_close(&c->r);
				c->open = false;
				break;
			}
			if (st == FR_PRODUCER_DEAD)
				fprintf(stderr, "flowring conns: flowringd (pid %u) died\n", c->r.region.pid);
			else
				fprintf(stderr, "flowring conns: reading %s failed: %s\n", c->r.region.path,
					fr_status_str(st));
			return FR_CLI_FAIL;
		}
	}
	fprintf(stderr, "flowring conns: no snapshot could be read in %d attempts (each was overwritten or "
			"removed before it was copied)\n", FR_CLI_ROUND_RETRIES);
	return FR_CLI_FAIL;
}

/* Register again after the client was removed behind our back (expired, or unregistered by another
 * run) and map its new region; the new region numbers snapshots from 1 again. */
static int fr_cli_snap_periodic_rejoin(struct fr_cli_snap *c)
{
	uint64_t gen = 0;
	int st;

	if (fr_cli_snap_register(c, &gen) != 0)
		return FR_CLI_FAIL;
	st = fr_cli_snap_map(c, gen);
	if (st != FR_OK) {
		fr_cli_snap_map_failed(c, st);
		return FR_CLI_FAIL;
	}
	c->snap_seq = 0;
	return FR_CLI_OK;
}

/* --watch --publish-interval: wait for the next snapshot flowringd publishes on its own (newer than
 * c->snap_seq) and copy the newest one out. FR_CLI_OK, FR_CLI_STOPPED, or FR_CLI_FAIL (printed). */
int fr_cli_snap_periodic_round(struct fr_cli_snap *c, const volatile sig_atomic_t *stop)
{
	/* a snapshot is due every publish_ms; allow the daemon's tick granularity and a busy machine */
	uint64_t limit_ms = 2u * c->publish_ms + FR_CLI_SNAPSHOT_WAIT_MS;
	uint64_t start = fr_cli_now_ns();

	while (!*stop) {
		int st = fr_snapshot_wait(&c->r, c->snap_seq, 100);
		if (st == FR_OK) {
			/* acquire: pairs with the commit's release store of head */
			uint64_t head = __atomic_load_n(&c->r.region.hdr->head, __ATOMIC_ACQUIRE);
			st = fr_cli_snap_read_n(c, head);
			if (st == FR_OK)
				return FR_CLI_OK;
			if (st == -ESTALE || st == FR_AGAIN)
				continue; /* lapped while copying: the next head is newer still */
		}
		if (st == FR_NEW_GENERATION) {
			/* regrown: the newer file under the name continues the numbering; no newer file:
			 * the client was removed, so register again */
			st = fr_snapshot_reopen(&c->r);
			if (st == FR_OK)
				continue;
			if (fr_cli_snap_periodic_rejoin(c) != FR_CLI_OK)
				return FR_CLI_FAIL;
			continue;
		}
		if (st == FR_TIMED_OUT || st == FR_PRODUCER_STALE) {
			if (fr_cli_now_ns() - start > limit_ms * 1000000ull) {
				fprintf(stderr, "flowring conns: no snapshot published for client '%s' in %" PRIu64
						" ms (asked for one every %" PRIu64 " ms)\n", c->client, limit_ms,
					c->publish_ms);
				return FR_CLI_FAIL;
			}
			continue;
		}
		if (st == FR_PRODUCER_DEAD)
			fprintf(stderr, "flowring conns: flowringd (pid %u) died\n", c->r.region.pid);
		else
			fprintf(stderr, "flowring conns: reading %s failed: %s\n", c->r.region.path, fr_status_str(st));
		return FR_CLI_FAIL;
	}
	return FR_CLI_STOPPED;
}

/* Before the first periodic round: map the region and start after whatever it already holds, so the
 * first screen is a snapshot published after this run began. */
int fr_cli_snap_periodic_start(struct fr_cli_snap *c, uint64_t generation)
{
	int st = fr_cli_snap_map(c, generation);

	if (st != FR_OK) {
		fr_cli_snap_map_failed(c, st);
		return FR_CLI_FAIL;
	}
	/* acquire: pairs with the commit's release store of head */
	c->snap_seq = __atomic_load_n(&c->r.region.hdr->head, __ATOMIC_ACQUIRE);
	return FR_CLI_OK;
}

void fr_cli_snap_close(struct fr_cli_snap *c)
{
	if (c->open)
		fr_snapshot_close(&c->r);
	c->open = false;
	free(c->buf);
	c->buf = NULL;
	c->cap = c->count = 0;
}
