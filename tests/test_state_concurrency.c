/* Description: one writer storing, reading, registering and removing clients while reader threads take stats and dumps (torture, TSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state.h"

#define NCLIENTS 4
#define NACTIVE 200
#define NREADERS 2

struct shared {
	struct fr_state *st;
	int stop;
	uint64_t reader_rounds[NREADERS];
	uint64_t dump_entries[NREADERS];
	int reader_errors;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int dump_cb(void *ctx, const char *text, const struct fr_state_totals *t)
{
	uint64_t *n = ctx;
	/* each value is written whole: sent is a multiple of 8, recv twice a multiple of 8 */
	if (strncmp(text, "p:", 2) != 0 || t->sent_bytes % 8 != 0 || t->recv_bytes % 16 != 0)
		return -EBADMSG;
	(*n)++;
	return 0;
}

static int client_cb(void *ctx, const struct fr_state_client_stats *c)
{
	(void)ctx;
	return (c->id[0] == 'c' && c->tracked <= NACTIVE) ? 0 : -EBADMSG;
}

struct reader_arg {
	struct shared *sh;
	int idx;
};

static void *reader(void *p)
{
	struct reader_arg *ra = p;
	struct shared *sh = ra->sh;
	struct fr_state_stats prev = { 0 }, s;
	char id[8];

	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		if (fr_state_stats_mc(sh->st, &s, client_cb, NULL) != 0 || s.closed_stored < prev.closed_stored ||
		    s.records_emitted < prev.records_emitted || s.clients_registered < prev.clients_registered ||
		    s.clients_current > NCLIENTS)
			__atomic_fetch_add(&sh->reader_errors, 1, __ATOMIC_RELAXED);
		prev = s;
		for (int c = 0; c < NCLIENTS; c++) {
			snprintf(id, sizeof(id), "c%d", c);
			int rc = fr_state_dump_mc(sh->st, id, dump_cb, &sh->dump_entries[ra->idx]);
			if (rc != 0 && rc != -ENOENT) /* a client may be between remove and re-register */
				__atomic_fetch_add(&sh->reader_errors, 1, __ATOMIC_RELAXED);
		}
		sh->reader_rounds[ra->idx]++;
	}
	return NULL;
}

struct check {
	int bad;
	int fresh;           /* first read after registration */
	uint16_t forgot_sport; /* key forgotten by RemoveConnections since the last read, or 0 */
};

static int check_emit(void *ctx, const struct fr_conn *c)
{
	struct check *ck = ctx;
	if (c->end_ns)
		return 0; /* closed records are covered by test_state */
	/* every active key grows by 8 bytes per round: the delta is 8, or everything when fresh */
	bool whole = ck->fresh || c->sport == ck->forgot_sport;
	if (c->last_sent_bytes != (whole ? c->monotonic_sent_bytes : 8) || c->last_recv_bytes != 2 * c->last_sent_bytes)
		ck->bad++;
	return 0;
}

static void test_writer_and_readers_run_concurrently_without_inconsistency(void **state)
{
	struct shared sh = { 0 };
	struct reader_arg ra[NREADERS];
	pthread_t th[NREADERS];
	struct fr_conn *active = calloc(NACTIVE, sizeof(*active));
	int fresh[NCLIENTS];
	const char *env = getenv("FR_STATE_TORTURE_SECONDS");
	double seconds = env ? atof(env) : 6.0;
	uint64_t deadline, round = 0, bad = 0, reads = 0;
	uint16_t forgot = 0;
	char id[8];
	(void)state;

	sh.st = fr_state_new_sp(NULL);
	assert_non_null(sh.st);
	for (int c = 0; c < NCLIENTS; c++) {
		snprintf(id, sizeof(id), "c%d", c);
		assert_int_equal(fr_state_register_sp(sh.st, id, now_ns()), 0);
		fresh[c] = 1;
	}
	for (int i = 0; i < NREADERS; i++) {
		ra[i] = (struct reader_arg){ &sh, i };
		assert_int_equal(pthread_create(&th[i], NULL, reader, &ra[i]), 0);
	}
	deadline = now_ns() + (uint64_t)(seconds * 1e9);
	while (now_ns() < deadline) {
		round++;
		for (int i = 0; i < NACTIVE; i++) {
			struct fr_conn *a = &active[i];
			memset(a, 0, sizeof(*a));
			a->saddr[0] = 10, a->saddr[3] = 1, a->daddr[0] = 10, a->daddr[3] = 2;
			a->sport = (uint16_t)(1000 + i);
			a->dport = 443;
			a->pid = 7;
			a->monotonic_sent_bytes = 8 * round;
			a->monotonic_recv_bytes = 16 * round;
			a->last_update_ns = round * 10;
		}
		for (int k = 0; k < 50; k++) {
			struct fr_conn c = active[k];
			c.sport = (uint16_t)(20000 + (round * 50 + (uint64_t)k) % 30000);
			c.end_ns = c.last_update_ns;
			c.flags = FR_CONN_F_CLOSED;
			assert_true(fr_state_store_closed_sp(sh.st, &c) >= 0);
		}
		for (int c = 0; c < NCLIENTS; c++) {
			struct check ck = { .fresh = fresh[c], .forgot_sport = forgot };
			snprintf(id, sizeof(id), "c%d", c);
			assert_true(fr_state_read_sp(sh.st, id, now_ns(), active, NACTIVE, check_emit, &ck) >= NACTIVE);
			bad += (uint64_t)ck.bad;
			fresh[c] = 0;
			reads++;
		}
		forgot = 0;
		if (round % 7 == 0) { /* churn: frees of a whole client while readers may be dumping it */
			int c = (int)(round / 7 % NCLIENTS);
			snprintf(id, sizeof(id), "c%d", c);
			assert_int_equal(fr_state_remove_client_sp(sh.st, id), 0);
			assert_int_equal(fr_state_register_sp(sh.st, id, now_ns()), 0);
			fresh[c] = 1;
		}
		if (round % 5 == 0) { /* RemoveConnections: per-key frees under readers */
			struct fr_conn_key k;
			fr_conn_key_from_conn(&k, &active[round % NACTIVE]);
			/* every client remembers it, except one re-registered just now */
			assert_int_equal(fr_state_remove_conns_sp(sh.st, &k, 1), round % 7 == 0 ? NCLIENTS - 1 : NCLIENTS);
			forgot = active[round % NACTIVE].sport; /* next read reports it whole */
		}
	}
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(th[i], NULL);
	printf("# %llu rounds, %llu reads; readers: %llu + %llu rounds, %llu dump entries\n", (unsigned long long)round,
	       (unsigned long long)reads, (unsigned long long)sh.reader_rounds[0], (unsigned long long)sh.reader_rounds[1],
	       (unsigned long long)(sh.dump_entries[0] + sh.dump_entries[1]));
	fr_state_free_sp(sh.st);
	free(active);
	assert_int_equal(sh.reader_errors, 0);
	assert_true(round > 10);
	assert_true(sh.reader_rounds[0] > 10 && sh.reader_rounds[1] > 10);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_and_readers_run_concurrently_without_inconsistency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
