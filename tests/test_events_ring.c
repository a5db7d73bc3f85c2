/* Description: events ring: ordered reads, exact loss when lapped, validity checks, futex waits without lost wake-ups, concurrent readers (TSan). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <flowring/flowring.h>

#include "events_ring.h"

#define CAP 64u

static char shm_dir[128];
static struct fr_events_writer w;

static int setup(void **state)
{
	(void)state;
	snprintf(shm_dir, sizeof(shm_dir), "/dev/shm/fr-test-events-%d-XXXXXX", (int)getpid());
	return mkdtemp(shm_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(shm_dir);
}

static int ring_up(void **state)
{
	struct fr_events_params p = {.shm_dir = shm_dir, .instance = "ev", .capacity = CAP, .gid = (gid_t)-1,
				     .heartbeat_interval_ms = 1000};
	(void)state;
	return fr_events_create(&w, &p);
}

/* A heartbeat interval far above the wait timeout: the SDK's periodic liveness re-check cannot
 * hide a lost wake-up, which then shows as a timed-out wait. */
static int ring_up_slow_heartbeat(void **state)
{
	struct fr_events_params p = {.shm_dir = shm_dir, .instance = "ev", .capacity = CAP, .gid = (gid_t)-1,
				     .heartbeat_interval_ms = 10000};
	(void)state;
	return fr_events_create(&w, &p);
}

static int ring_down(void **state)
{
	(void)state;
	return fr_events_retire(&w);
}

/* A record whose words derive from its position, the last word a checksum of the others. */
static void make_rec(struct fr_conn *c, uint64_t pos)
{
	uint64_t *q = (uint64_t *)(void *)c, sum = 0;
	for (unsigned i = 0; i < 29; i++) {
		q[i] = pos * 0x9e3779b97f4a7c15ull + i;
		sum = sum * 31u + q[i];
	}
	q[29] = sum;
}

static int rec_ok(const struct fr_conn *c, uint64_t pos)
{
	struct fr_conn want;
	make_rec(&want, pos);
	return memcmp(c, &want, sizeof(want)) == 0;
}

static void publish(uint64_t from, uint64_t n)
{
	struct fr_conn c;
	for (uint64_t i = from; i < from + n; i++) {
		make_rec(&c, i);
		fr_events_publish_sp(&w, &c);
	}
	fr_events_flush_sp(&w);
}

static void test_reader_reads_records_in_order_zero_copy_and_copied(void **state)
{
	struct fr_events_reader a, b;
	const struct fr_conn *c;
	struct fr_conn copy;
	(void)state;
	assert_int_equal(fr_events_open(&a, shm_dir, "ev", FR_FROM_LATEST), FR_OK);
	assert_int_equal(fr_events_open(&b, shm_dir, "ev", FR_FROM_LATEST), FR_OK);
	assert_int_equal(fr_events_next(&a, &c), FR_AGAIN);
	publish(0, 10);
	for (uint64_t i = 0; i < 10; i++) {
		assert_int_equal(fr_events_next(&a, &c), FR_OK);
		assert_true(rec_ok(c, i));
		assert_int_equal(fr_events_check(&a), FR_OK);
		assert_int_equal(fr_events_read(&b, &copy), FR_OK);
		assert_true(rec_ok(&copy, i));
	}
	assert_int_equal(fr_events_next(&a, &c), FR_AGAIN);
	assert_int_equal(fr_events_read(&b, &copy), FR_AGAIN);
	assert_int_equal(fr_events_position(&a), 10);
	fr_events_close(&a);
	fr_events_close(&b);
}

static void test_reader_reports_exact_loss_when_lapped(void **state)
{
	struct fr_events_reader r, z;
	const struct fr_conn *c;
	struct fr_conn copy;
	(void)state;
	assert_int_equal(fr_events_open(&r, shm_dir, "ev", FR_FROM_LATEST), FR_OK);
	assert_int_equal(fr_events_open(&z, shm_dir, "ev", FR_FROM_LATEST), FR_OK);
	publish(0, 3);
	assert_int_equal(fr_events_next(&r, &c), FR_OK); /* read position 0, then stop */
	assert_int_equal(fr_events_read(&z, &copy), FR_OK);
	publish(3, CAP + 17); /* positions 3 .. CAP+19: positions 1..19 are overwritten */
	assert_int_equal(fr_events_next(&r, &c), FR_LAPPED);
	assert_int_equal(fr_events_lost(&r), 19);
	assert_int_equal(fr_events_read(&z, &copy), FR_LAPPED); /* the copy-out path agrees */
	assert_int_equal(fr_events_lost(&z), 19);
	/* resume at the oldest valid record and read everything that is left */
	for (uint64_t i = 20; i < CAP + 20; i++) {
		assert_int_equal(fr_events_next(&r, &c), FR_OK);
		assert_true(rec_ok(c, i));
		assert_int_equal(fr_events_check(&r), FR_OK);
		assert_int_equal(fr_events_read(&z, &copy), FR_OK);
		assert_true(rec_ok(&copy, i));
	}
	assert_int_equal(fr_events_next(&r, &c), FR_AGAIN);
	assert_int_equal(r.total_lost, 19);
	assert_int_equal(r.received, 1 + CAP);
	fr_events_close(&r);
	fr_events_close(&z);
}

static void test_check_fails_when_record_is_overwritten_during_use(void **state)
{
	struct fr_events_reader r;
	const struct fr_conn *c;
	(void)state;
	assert_int_equal(fr_events_open(&r, shm_dir, "ev", FR_FROM_LATEST), FR_OK);
	publish(0, 1);
	assert_int_equal(fr_events_next(&r, &c), FR_OK);
	publish(1, CAP); /* position CAP reuses position 0's slot while we "use" it */
	assert_int_equal(fr_events_check(&r), FR_LAPPED);
	assert_int_equal(fr_events_lost(&r), 1);
	assert_int_equal(r.received, 0);
	fr_events_close(&r);
}

static void test_from_oldest_starts_at_oldest_valid_record(void **state)
{
	struct fr_events_reader r;
	const struct fr_conn *c;
	(void)state;
	publish(0, CAP + 5);
	assert_int_equal(fr_events_open(&r, shm_dir, "ev", FR_FROM_OLDEST), FR_OK);
	assert_int_equal(fr_events_position(&r), 5);
	assert_int_equal(fr_events_next(&r, &c), FR_OK);
	assert_true(rec_ok(c, 5));
	fr_events_close(&r);
	assert_int_equal(fr_events_open(&r, shm_dir, "ev", FR_FROM_LATEST), FR_OK);
	assert_int_equal(fr_events_position(&r), CAP + 5);
	fr_events_close(&r);
}

static void test_wait_times_out_without_publish(void **state)
{
	struct fr_events_reader r;
	struct timespec a, b;
	(void)state;
	assert_int_equal(fr_events_open(&r, shm_dir, "ev", FR_FROM_LATEST), FR_OK);
	fr_events_heartbeat_sp(&w, fr_now_ns());
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(fr_events_wait(&r, 30), FR_TIMED_OUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 29 && ms < 1000);
	fr_events_close(&r);
}

static void test_lazy_flush_rate_limits_wakes_and_keeps_them_pending(void **state)
{
	struct fr_events_reader r;
	struct fr_conn c;
	(void)state;
	assert_int_equal(fr_events_open(&r, shm_dir, "ev", FR_FROM_LATEST), FR_OK);
	uint32_t before = __atomic_load_n(&w.region.hdr->wake_seq, __ATOMIC_RELAXED);
	make_rec(&c, 0);
	fr_events_publish_sp(&w, &c);
	assert_int_equal(fr_events_flush_lazy_sp(&w, 1000000000ull, 1000), 1); /* first: wakes */
	fr_events_publish_sp(&w, &c);
	assert_int_equal(fr_events_flush_lazy_sp(&w, 1000000500ull, 1000), 0); /* 500 ns later: pending */
	assert_int_equal(__atomic_load_n(&w.region.hdr->wake_seq, __ATOMIC_RELAXED), before + 1);
	assert_int_equal(fr_events_flush_lazy_sp(&w, 1000001000ull, 1000), 1); /* interval over: wakes */
	assert_int_equal(__atomic_load_n(&w.region.hdr->wake_seq, __ATOMIC_RELAXED), before + 2);
	fr_events_publish_sp(&w, &c);
	assert_int_equal(fr_events_flush_lazy_sp(&w, 1000001001ull, 1000), 0);
	assert_int_equal(fr_events_flush_sp(&w), 1); /* going idle: the pending wake is delivered */
	assert_int_equal(fr_events_flush_sp(&w), 0); /* nothing new: no syscall */
	assert_int_equal(w.wakes, 3);
	fr_events_close(&r);
}

struct pingpong {
	struct fr_events_reader r;
	uint64_t iterations;
	uint64_t acked;     /* reader -> writer: records consumed */
	uint64_t timeouts;  /* waits that ran out (or took > 1 s) although a record was published */
	uint64_t bad;
};

static void *pingpong_reader(void *arg)
{
	struct pingpong *p = arg;
	struct fr_conn c;
	for (uint64_t i = 0; i < p->iterations; i++) {
		int st;
		while ((st = fr_events_read(&p->r, &c)) != FR_OK) {
			if (st == FR_AGAIN) {
				/* 2 s is "forever" here: the writer publishes right after our ack */
				uint64_t t0 = fr_now_ns();
				int ws = fr_events_wait(&p->r, 2000);
				if (ws == FR_TIMED_OUT || fr_now_ns() - t0 > 1000000000ull) {
					__atomic_add_fetch(&p->timeouts, 1, __ATOMIC_RELAXED);
					return NULL; /* a lost wake-up: stop here, the test fails */
				}
			} else {
				__atomic_add_fetch(&p->bad, 1, __ATOMIC_RELAXED);
				return NULL;
			}
		}
		if (!rec_ok(&c, i))
			__atomic_add_fetch(&p->bad, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&p->acked, i + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Publish one record, wait for the reader to consume it, repeat: each round the reader sleeps in
 * the futex just as the writer publishes, the window a lost wake-up would fall into. */
static void test_wait_wakes_on_publish_without_lost_wakeups(void **state)
{
	static struct pingpong p;
	pthread_t t;
	struct fr_conn c;
	(void)state;
	memset(&p, 0, sizeof(p));
	p.iterations = 20000;
	assert_int_equal(fr_events_open(&p.r, shm_dir, "ev", FR_FROM_LATEST), FR_OK);
	assert_int_equal(pthread_create(&t, NULL, pingpong_reader, &p), 0);
	for (uint64_t i = 0; i < p.iterations; i++) {
		make_rec(&c, i);
		fr_events_publish_sp(&w, &c);
		fr_events_flush_sp(&w);
		while (__atomic_load_n(&p.acked, __ATOMIC_ACQUIRE) <= i && !__atomic_load_n(&p.bad, __ATOMIC_RELAXED) &&
		       !__atomic_load_n(&p.timeouts, __ATOMIC_RELAXED))
			if (i % 3 == 0)
				sched_yield(); /* vary the timing: sometimes the reader is asleep, sometimes not */
		if (i % 1024 == 0)
			fr_events_heartbeat_sp(&w, fr_now_ns());
	}
	pthread_join(t, NULL);
	assert_int_equal(p.bad, 0);
	assert_int_equal(p.timeouts, 0);
	assert_int_equal(p.acked, p.iterations);
	fr_events_close(&p.r);
}

#define CHAIN_READERS 8
#define CHAIN_ROUNDS 300

struct chain {
	uint64_t acked[CHAIN_READERS]; /* rounds consumed by each reader */
	uint64_t slow;                 /* waits that took > 1 s: a broken wake chain */
	int id_next;
};

static struct chain chain;

static void *chain_reader(void *arg)
{
	struct fr_events_reader r;
	struct fr_conn c;
	int id = __atomic_fetch_add(&chain.id_next, 1, __ATOMIC_RELAXED);
	(void)arg;
	if (fr_events_open(&r, shm_dir, "ev", FR_FROM_OLDEST) != FR_OK)
		return NULL;
	for (uint64_t i = 0; i < CHAIN_ROUNDS && !__atomic_load_n(&chain.slow, __ATOMIC_RELAXED);) {
		if (fr_events_read(&r, &c) == FR_OK) {
			__atomic_store_n(&chain.acked[id], ++i, __ATOMIC_RELEASE);
			continue;
		}
		uint64_t t0 = fr_now_ns();
		fr_events_wait(&r, 2000);
		if (fr_now_ns() - t0 > 1000000000ull)
			__atomic_add_fetch(&chain.slow, 1, __ATOMIC_RELAXED);
	}
	fr_events_close(&r);
	return NULL;
}

/* One publish + flush per round, 8 readers asleep: the producer wakes one of them and the readers
 * wake each other; every one of them must see every round promptly (no broken chain). */
static void test_one_wake_reaches_every_waiting_reader(void **state)
{
	pthread_t t[CHAIN_READERS];
	struct fr_conn c;
	(void)state;
	memset(&chain, 0, sizeof(chain));
	for (int i = 0; i < CHAIN_READERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, chain_reader, NULL), 0);
	usleep(20000);
	for (uint64_t i = 0; i < CHAIN_ROUNDS && !__atomic_load_n(&chain.slow, __ATOMIC_RELAXED); i++) {
		make_rec(&c, i);
		fr_events_publish_sp(&w, &c);
		fr_events_flush_sp(&w);
		for (int k = 0; k < CHAIN_READERS; k++)
			while (__atomic_load_n(&chain.acked[k], __ATOMIC_ACQUIRE) <= i &&
			       !__atomic_load_n(&chain.slow, __ATOMIC_RELAXED))
				sched_yield();
	}
	for (int i = 0; i < CHAIN_READERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(chain.slow, 0);
	for (int k = 0; k < CHAIN_READERS; k++)
		assert_int_equal(chain.acked[k], CHAIN_ROUNDS);
	assert_int_equal(w.wakes, CHAIN_ROUNDS); /* one producer wake per round, whatever the readers */
}

struct reader_thread {
	uint64_t total, start, got, lost, torn;
};

static uint64_t concurrent_total;

static void *copy_reader(void *arg)
{
	struct reader_thread *rt = arg;
	struct fr_events_reader r;
	struct fr_conn c;
	if (fr_events_open(&r, shm_dir, "ev", FR_FROM_OLDEST) != FR_OK)
		return NULL;
	rt->start = fr_events_position(&r);
	while (fr_events_position(&r) < rt->total) {
		uint64_t pos = fr_events_position(&r);
		int st = fr_events_read(&r, &c);
		if (st == FR_OK) {
			rt->got++;
			rt->torn += !rec_ok(&c, pos);
		} else if (st == FR_LAPPED) {
			rt->lost += fr_events_lost(&r);
		} else if (st == FR_AGAIN) {
			fr_events_wait(&r, 100);
		} else {
			break;
		}
	}
	fr_events_close(&r);
	return NULL;
}

/* Writer thread + 2 copy-out reader threads on a small ring: every record a reader accepts is
 * intact, and received + lost is exactly what was published. */
static void test_concurrent_readers_accept_no_torn_records(void **state)
{
	pthread_t t[2];
	struct reader_thread rt[2];
	struct fr_conn c;
	(void)state;
	concurrent_total = 200000;
	memset(rt, 0, sizeof(rt));
	for (int i = 0; i < 2; i++) {
		rt[i].total = concurrent_total;
		assert_int_equal(pthread_create(&t[i], NULL, copy_reader, &rt[i]), 0);
	}
	for (uint64_t i = 0; i < concurrent_total; i++) {
		make_rec(&c, i);
		fr_events_publish_sp(&w, &c);
		if (i % 16 == 15)
			fr_events_flush_sp(&w);
		if (i % 4096 == 0)
			fr_events_heartbeat_sp(&w, fr_now_ns());
	}
	fr_events_flush_sp(&w);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(rt[i].torn, 0);
		assert_int_equal(rt[i].got + rt[i].lost, concurrent_total - rt[i].start);
		assert_true(rt[i].got > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reader_reads_records_in_order_zero_copy_and_copied, ring_up, ring_down),
		cmocka_unit_test_setup_teardown(test_reader_reports_exact_loss_when_lapped, ring_up, ring_down),
		cmocka_unit_test_setup_teardown(test_check_fails_when_record_is_overwritten_during_use, ring_up, ring_down),
		cmocka_unit_test_setup_teardown(test_from_oldest_starts_at_oldest_valid_record, ring_up, ring_down),
		cmocka_unit_test_setup_teardown(test_wait_times_out_without_publish, ring_up, ring_down),
		cmocka_unit_test_setup_teardown(test_lazy_flush_rate_limits_wakes_and_keeps_them_pending, ring_up,
						ring_down),
		cmocka_unit_test_setup_teardown(test_wait_wakes_on_publish_without_lost_wakeups, ring_up_slow_heartbeat,
						ring_down),
		cmocka_unit_test_setup_teardown(test_one_wake_reaches_every_waiting_reader, ring_up_slow_heartbeat, ring_down),
		cmocka_unit_test_setup_teardown(test_concurrent_readers_accept_no_torn_records, ring_up, ring_down),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
