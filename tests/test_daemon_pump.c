/* Description: a real in-process flowringd keeps ingesting closed connections while it builds a snapshot, defers their state stores to the build's end, loses none. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <cmocka.h>
#include <flowring/flowring.h>

#include "bench_daemon.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "state.h"
#include "tracer.h"
#include "tracer_private.h"

#define ACTIVE 200000u       /* synthetic active TCP connections in the BPF map */
#define CLIENT "bench-0"     /* fr_bench_daemon_register's first id */
#define INJECT_PER_PUMP 100u /* closed records written into the ring buffer at each pump ... */
#define INJECT_PUMPS 20u     /* ... for this many pumps */

struct fixture {
	char dir[64];
	struct fr_config cfg;
	struct fr_daemon d;
	struct fr_daemon_client *c;
	struct inject_bpf *sk;
	uint64_t next; /* next injected record number: each test's records are new keys */
};

/* What the pump hook saw. */
struct hook {
	struct fixture *f;
	uint64_t base;          /* first record number injected in this build */
	unsigned inject_pumps;  /* pumps that inject */
	unsigned per_pump;
	unsigned calls;
	uint64_t injected;
	uint64_t snap_next;      /* the client's next snapshot number when the build started */
	uint64_t head_uncommitted;  /* events ring head at the last call before that snapshot was committed */
	unsigned calls_uncommitted; /* calls before it was committed */
	int inject_rc;
};

static struct fixture g_f;

static void on_pump(struct fr_daemon *d, void *ctx)
{
	struct hook *h = ctx;

	h->calls++;
	if (h->f->c->w.next == h->snap_next) {
		h->head_uncommitted = d->events.head;
		h->calls_uncommitted = h->calls;
	}
	if (h->calls <= h->inject_pumps) {
		int rc = fr_bench_inject(h->f->sk, h->base + h->injected, h->per_pump);
		if (rc && !h->inject_rc)
			h->inject_rc = rc;
		h->injected += h->per_pump;
	}
}

static int setup(void **state)
{
	struct fixture *f = &g_f;
	int rc;

	(void)state;
	if (geteuid() != 0)
		return 0; /* every test skips: see main */
	fr_log_set_level(FR_LOG_WARN);
	snprintf(f->dir, sizeof(f->dir), "/dev/shm/fr-pump-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(f->dir))
		return -1;
	fr_config_defaults(&f->cfg);
	snprintf(f->cfg.shm_dir, sizeof(f->cfg.shm_dir), "%.60s", f->dir);
	snprintf(f->cfg.control_path, sizeof(f->cfg.control_path), "%.60s/ctl.sock", f->dir);
	snprintf(f->cfg.instance, sizeof(f->cfg.instance), "pump%d", (int)getpid());
	f->cfg.max_clients = 1;
	f->cfg.max_tracked = ACTIVE + 65536;
	f->cfg.max_closed = 100000;
	f->cfg.no_conntrack = true;
	rc = fr_bench_daemon_open(&f->d, &f->cfg, ACTIVE + 65536);
	if (rc) {
		fprintf(stderr, "test_daemon_pump: daemon: %s\n", strerror(-rc));
		rmdir(f->dir);
		return -1;
	}
	rc = fr_bench_daemon_register(&f->d, 1);
	rc = rc ? rc : fr_bench_inject_open(&f->d, &f->sk);
	rc = rc ? rc : fr_bench_fill_active(&f->d, 0, ACTIVE);
	f->c = &f->d.clients[0];
	/* the first snapshot: the client remembers every active key from now on */
	rc = rc ? rc : fr_daemon_publish_snapshot(&f->d, f->c, fr_now_ns());
	if (rc) {
		fprintf(stderr, "test_daemon_pump: setup: %s\n", strerror(-rc));
		return -1;
	}
	f->next = 1000000; /* clear of nothing: injected keys are 10.x.y.z -> 10.0.0.1, actives -> 10.0.0.2 */
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = &g_f;
	char path[128];

	(void)state;
	if (geteuid() != 0)
		return 0;
	if (f->sk)
		fr_bench_inject_close(f->sk);
	fr_daemon_close(&f->d);
	/* the retired regions are unlinked; the directory may hold temporary files of a failed create */
	snprintf(path, sizeof(path), "%.60s/ctl.sock", f->dir);
	unlink(path);
	return rmdir(f->dir) == 0 || errno == ENOENT ? 0 : -1;
}

static bool injected_record(const struct fr_conn *c, uint64_t base, uint64_t n)
{
	return c->daddr[0] == 10 && c->daddr[3] == 1 && c->dport == 443 && c->cookie > base && c->cookie <= base + n;
}

/* Records of the injected range [base, base + n) in the events ring between positions from and to. */
static uint64_t events_count(const struct fr_daemon *d, uint64_t from, uint64_t to, uint64_t base, uint64_t n)
{
	uint64_t got = 0;

	assert_true(to - from <= d->events.mask + 1); /* nothing overwritten */
	for (uint64_t p = from; p < to; p++)
		got += injected_record(&d->events.slots[p & d->events.mask].rec, base, n);
	return got;
}

/* The client's newest snapshot: the injected records of [base, base + n) it holds closed, each exactly once and with
 * the deltas of a key never reported before (last_x = monotonic_x, the values bpf/inject.bpf.c writes); the active
 * records, unchanged since the previous snapshot, with zero deltas. Returns how many injected ones it holds. */
static uint64_t snapshot_check(struct fixture *f, uint64_t base, uint64_t n, uint64_t *active)
{
	struct fr_snapshot_reader r;
	struct fr_snapshot_view v;
	uint8_t *seen = calloc(n ? n : 1, 1);
	uint64_t got = 0;

	assert_non_null(seen);
	*active = 0;
	assert_int_equal(fr_snapshot_open(&r, f->cfg.shm_dir, f->cfg.instance, CLIENT), FR_OK);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_OK);
	for (uint64_t i = 0; i < v.count; i++) {
		const struct fr_conn *c = &v.records[i];
		if (c->cookie >= FR_BENCH_COOKIE_BASE) {
			assert_int_equal(c->end_ns, 0);
			assert_int_equal(c->last_sent_bytes, 0);
			assert_int_equal(c->last_recv_bytes, 0);
			(*active)++;
			continue;
		}
		if (!injected_record(c, base, n))
			continue; /* the host's own connections, traced too */
		uint64_t k = c->cookie - 1; /* the record number */
		assert_false(seen[k - base]);
		seen[k - base] = 1;
		assert_true(c->end_ns != 0);
		assert_true(c->flags & FR_CONN_F_CLOSED);
		assert_int_equal(c->monotonic_sent_bytes, 100 + k % 1000);
		assert_int_equal(c->monotonic_recv_bytes, 2000 + k % 5000);
		assert_int_equal(c->last_sent_bytes, c->monotonic_sent_bytes);
		assert_int_equal(c->last_recv_bytes, c->monotonic_recv_bytes);
		assert_int_equal(c->last_sent_packets, 3);
		got++;
	}
	assert_int_equal(fr_snapshot_valid(&r, &v), FR_OK);
	fr_snapshot_close(&r);
	free(seen);
	return got;
}

static uint64_t kernel_lost(struct fixture *f)
{
	struct fr_tracer_counters tc;

	assert_int_equal(fr_tracer_read_counters(f->d.tracer, &tc), 0);
	return tc.rb_reserve_failed;
}

static uint64_t closed_stored(struct fixture *f)
{
	struct fr_state_stats ss;

	assert_int_equal(fr_state_stats_mc(f->d.state, &ss, NULL, NULL), 0);
	return ss.closed_stored;
}

static void test_closes_during_a_build_reach_the_events_ring_at_once_and_the_next_snapshot(void **state)
{
	struct fixture *f = &g_f;
	struct hook h = {.f = f, .base = f->next, .inject_pumps = INJECT_PUMPS, .per_pump = INJECT_PER_PUMP};
	uint64_t n = (uint64_t)INJECT_PUMPS * INJECT_PER_PUMP, active, lost0 = kernel_lost(f);
	uint64_t head0, snap_next0, pumps0 = f->d.pumps, deferred0 = f->d.pump_deferred, stored0;

	(void)state;
	f->next += n;
	fr_tracer_consume(f->d.tracer); /* start from an empty kernel ring */
	stored0 = closed_stored(f);
	head0 = f->d.events.head;
	snap_next0 = f->c->w.next;
	h.snap_next = snap_next0;
	f->d.pump_hook = on_pump;
	f->d.pump_hook_ctx = &h;
	assert_int_equal(fr_daemon_publish_snapshot(&f->d, f->c, fr_now_ns()), 0);
	f->d.pump_hook = NULL;
	assert_int_equal(h.inject_rc, 0);
	assert_int_equal(h.injected, n);
	/* the records injected at a pump were drained by it: a later pump of the same build, before the snapshot was
	 * committed, saw them in the events ring */
	assert_true(h.calls_uncommitted > INJECT_PUMPS);
	assert_true(f->d.pumps - pumps0 >= h.calls);
	assert_int_equal(f->c->w.next, snap_next0 + 1);
	assert_int_equal(events_count(&f->d, head0, h.head_uncommitted, h.base, n), n);
	/* their state stores waited for the build: this snapshot holds none of them, the state got them after it */
	assert_int_equal(snapshot_check(f, h.base, n, &active), 0);
	assert_true(active >= ACTIVE);
	assert_true(f->d.pump_deferred - deferred0 >= n);
	assert_true(f->d.pump_deferred_peak >= n);
	assert_int_equal(f->d.n_deferred, 0);
	assert_false(f->d.building);
	assert_true(closed_stored(f) - stored0 >= n);
	/* the next snapshot reports each exactly once, closed, with its own deltas */
	assert_int_equal(fr_daemon_publish_snapshot(&f->d, f->c, fr_now_ns()), 0);
	assert_int_equal(snapshot_check(f, h.base, n, &active), n);
	assert_true(active >= ACTIVE);
	assert_int_equal(kernel_lost(f), lost0);
}

static void test_full_deferral_queue_stops_the_pump_and_loses_nothing(void **state)
{
	struct fixture *f = &g_f;
	struct hook h = {.f = f, .base = f->next, .inject_pumps = 10, .per_pump = 200};
	uint64_t n = 2000, active, lost0 = kernel_lost(f), head0, full0 = f->d.pump_queue_full;

	(void)state;
	f->next += n;
	fr_tracer_consume(f->d.tracer);
	head0 = f->d.events.head;
	f->d.defer_max = 300; /* two pumps' worth: the third finds it full */
	f->d.pump_hook = on_pump;
	f->d.pump_hook_ctx = &h;
	assert_int_equal(fr_daemon_publish_snapshot(&f->d, f->c, fr_now_ns()), 0);
	f->d.pump_hook = NULL;
	f->d.defer_max = FR_DAEMON_DEFER_MAX;
	assert_int_equal(h.inject_rc, 0);
	assert_int_equal(h.injected, n);
	/* the pump stopped draining (counted): the rest waited in the kernel ring until the build ended, and the
	 * drain that ends every build brought them: every record reaches the events ring and the next snapshot */
	assert_true(f->d.pump_queue_full - full0 >= 8);
	assert_true(f->d.pump_deferred_peak >= 300);
	assert_int_equal(snapshot_check(f, h.base, n, &active), 0);
	assert_int_equal(events_count(&f->d, head0, f->d.events.head, h.base, n), n);
	assert_int_equal(fr_daemon_publish_snapshot(&f->d, f->c, fr_now_ns()), 0);
	assert_int_equal(snapshot_check(f, h.base, n, &active), n);
	assert_int_equal(kernel_lost(f), lost0);
}

static void test_failed_build_still_applies_its_deferred_stores(void **state)
{
	struct fixture *f = &g_f;
	struct hook h = {.f = f, .base = f->next, .inject_pumps = 5, .per_pump = 100};
	uint64_t n = 500, stored0, failed0 = f->d.snapshot_failed, head0;

	(void)state;
	f->next += n;
	fr_tracer_consume(f->d.tracer);
	stored0 = closed_stored(f);
	head0 = f->d.events.head;
	/* the state forgets the client while the daemon still has its region: the state read fails (-ENOENT) after
	 * the collection pumped */
	assert_int_equal(fr_state_remove_client_sp(f->d.state, CLIENT), 0);
	f->d.pump_hook = on_pump;
	f->d.pump_hook_ctx = &h;
	assert_int_equal(fr_daemon_publish_snapshot(&f->d, f->c, fr_now_ns()), -ENOENT);
	f->d.pump_hook = NULL;
	assert_int_equal(h.injected, n);
	assert_int_equal(f->d.snapshot_failed, failed0 + 1);
	assert_int_equal(events_count(&f->d, head0, f->d.events.head, h.base, n), n);
	assert_false(f->d.building);
	assert_int_equal(f->d.n_deferred, 0);
	assert_true(closed_stored(f) - stored0 >= n);
	assert_int_equal(fr_state_register_sp(f->d.state, CLIENT, fr_now_ns()), 0);
}

static void test_no_pump_outside_a_build(void **state)
{
	struct fixture *f = &g_f;
	uint64_t pumps0 = f->d.pumps, stored0, deferred0 = f->d.pump_deferred;

	(void)state;
	fr_tracer_consume(f->d.tracer);
	stored0 = closed_stored(f);
	assert_int_equal(fr_bench_inject(f->sk, f->next, 100), 0);
	f->next += 100;
	for (unsigned i = 0; i < 2 * FR_DAEMON_PUMP_EVERY; i++)
		fr_daemon_pump_tick(&f->d);
	fr_daemon_pump(&f->d);
	assert_int_equal(f->d.pumps, pumps0);
	/* the ordinary drain stores at once */
	fr_tracer_consume(f->d.tracer);
	assert_int_equal(f->d.pump_deferred, deferred0);
	assert_true(closed_stored(f) - stored0 >= 100);
}

/* One end of a pair of connections both on this host: a -> b, cookie given. */
static void pair_end(struct fr_bpf_conn *v, uint8_t a, uint16_t ap, uint8_t b, uint16_t bp, uint64_t cookie)
{
	memset(v, 0, sizeof(*v));
	v->saddr[0] = v->daddr[0] = 10;
	v->saddr[1] = v->daddr[1] = v->saddr[2] = v->daddr[2] = 9;
	v->saddr[3] = a;
	v->daddr[3] = b;
	v->sport = ap;
	v->dport = bp;
	v->netns = fr_daemon_netns_of("/proc/self");
	v->start_ns = v->last_update_ns = fr_now_ns();
	v->cookie = cookie;
	v->proto = FR_BPF_TCP;
	v->family = FR_BPF_V4;
	v->kind = FR_BPF_KIND_CONN;
}

static void test_large_batch_marks_intra_host_pairs_while_pumping(void **state)
{
	struct fixture *f = &g_f;
	struct fr_bpf_conn a, b;
	int fd = bpf_map__fd(f->d.tracer->skel->maps.fr_tcp_conns);
	uint64_t ka = FR_BENCH_COOKIE_BASE - 2, kb = FR_BENCH_COOKIE_BASE - 1, pumps0 = f->d.pumps;
	struct fr_snapshot_reader r;
	struct fr_snapshot_view v;
	unsigned marked = 0;

	(void)state;
	/* 10.9.9.1:5000 <-> 10.9.9.2:6000, both ends traced: only the batch rule can tell (no loopback, distinct
	 * addresses); the marking over the 200k batch pumps through its progress callback */
	pair_end(&a, 1, 5000, 2, 6000, ka);
	pair_end(&b, 2, 6000, 1, 5000, kb);
	assert_int_equal(bpf_map_update_elem(fd, &ka, &a, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(fd, &kb, &b, BPF_ANY), 0);
	assert_int_equal(fr_daemon_publish_snapshot(&f->d, f->c, fr_now_ns()), 0);
	assert_true(f->d.pumps > pumps0);
	assert_int_equal(fr_snapshot_open(&r, f->cfg.shm_dir, f->cfg.instance, CLIENT), FR_OK);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_OK);
	for (uint64_t i = 0; i < v.count; i++)
		if (v.records[i].cookie == ka || v.records[i].cookie == kb) {
			assert_int_equal(v.records[i].intra_host, 1);
			marked++;
		}
	assert_int_equal(fr_snapshot_valid(&r, &v), FR_OK);
	fr_snapshot_close(&r);
	assert_int_equal(marked, 2);
	assert_int_equal(bpf_map_delete_elem(fd, &ka), 0);
	assert_int_equal(bpf_map_delete_elem(fd, &kb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closes_during_a_build_reach_the_events_ring_at_once_and_the_next_snapshot),
		cmocka_unit_test(test_full_deferral_queue_stops_the_pump_and_loses_nothing),
		cmocka_unit_test(test_failed_build_still_applies_its_deferred_stores),
		cmocka_unit_test(test_no_pump_outside_a_build),
		cmocka_unit_test(test_large_batch_marks_intra_host_pairs_while_pumping),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: test_daemon_pump needs root: it loads the BPF tracer into a real in-process "
				"flowringd\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
