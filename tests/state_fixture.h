/* state_fixture.h - helpers shared by the state area's tests: records with counters linear in one
 * number, a record from address strings (test_filter.c, test_portmap.c), a sink that collects what a
 * read emits, assertions on deltas, and the cmocka fixture (a fresh default state per test). */
#ifndef FR_STATE_FIXTURE_H
#define FR_STATE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define SEC 1000000000ull

/* A TCP IPv4 record 10.0.0.1:sport -> 10.0.0.2:80 of pid 100 with the given counters. */
struct fr_conn conn(uint16_t sport, uint64_t sent, uint64_t lu, uint64_t end);

/* A record src:sport -> dst:dport of this type (FR_CONN_TCP/UDP); IPv6 when src has a ':'. */
struct fr_conn conn_between(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t type);

#define CLOSED(sport, sent, lu) conn(sport, sent, lu, lu)
#define ACTIVE(sport, sent, lu) conn(sport, sent, lu, 0)

struct sink {
	struct fr_conn *recs;
	size_t n, cap;
	int fail_at; /* 1-based record number whose emit fails; 0 = never */
};

/* fr_state_emit_fn appending to a struct sink (failing with -ENOSPC at fail_at). */
int sink_emit(void *ctx, const struct fr_conn *c);

/* Read into s, emptied first. */
long rd(struct fr_state *st, const char *id, uint64_t now, const struct fr_conn *a, size_t n, struct sink *s);

/* The one record of this sport in s (asserts there is exactly one). */
const struct fr_conn *find(const struct sink *s, uint16_t sport);

/* Asserts all five last_x of r follow from a sent delta of sent (see conn()). */
void assert_last(const struct fr_conn *r, uint64_t sent);

/* The state's counters (asserts fr_state_stats_mc succeeds). */
struct fr_state_stats stats(struct fr_state *st);

struct fixture {
	struct fr_state *st;
	struct sink sink;
};

/* cmocka per-test setup and teardown of a struct fixture. */
int setup(void **state);
int teardown(void **state);

/* Up to four dumped keys of fr_state_dump_mc, through dump_cb. */
struct dump_seen {
	int n;
	char text[4][FR_CONN_KEY_TEXT_MAX];
	struct fr_state_totals t[4];
};
int dump_cb(void *ctx, const char *text, const struct fr_state_totals *t);

#endif /* FR_STATE_FIXTURE_H */
