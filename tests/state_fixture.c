/* state_fixture.c - helpers shared by the state area's tests (see state_fixture.h). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_fixture.h"

struct fr_conn conn(uint16_t sport, uint64_t sent, uint64_t lu, uint64_t end)
{
	struct fr_conn c;
	memset(&c, 0, sizeof(c));
	c.saddr[0] = 10, c.saddr[3] = 1;
	c.daddr[0] = 10, c.daddr[3] = 2;
	c.sport = sport;
	c.dport = 80;
	c.pid = 100;
	c.type = FR_CONN_TCP;
	c.family = FR_CONN_V4;
	c.monotonic_sent_bytes = sent;
	c.monotonic_recv_bytes = sent * 2;
	/* every counter linear in sent, so deltas of all five follow from the sent delta */
	c.monotonic_sent_packets = sent * 3;
	c.monotonic_recv_packets = sent * 5;
	c.monotonic_retransmits = (uint32_t)(sent * 7);
	c.last_update_ns = lu;
	c.start_ns = lu ? lu - 1 : 0;
	c.end_ns = end;
	if (end)
		c.flags = FR_CONN_F_CLOSED;
	c.cookie = sport;
	return c;
}

int sink_emit(void *ctx, const struct fr_conn *c)
{
	struct sink *s = ctx;
	if (s->fail_at && (int)s->n + 1 == s->fail_at)
		return -ENOSPC;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->recs = realloc(s->recs, s->cap * sizeof(*s->recs));
		assert_non_null(s->recs);
	}
	s->recs[s->n++] = *c;
	return 0;
}

long rd(struct fr_state *st, const char *id, uint64_t now, const struct fr_conn *a, size_t n, struct sink *s)
{
	s->n = 0;
	return fr_state_read_sp(st, id, now, a, n, sink_emit, s);
}

const struct fr_conn *find(const struct sink *s, uint16_t sport)
{
	const struct fr_conn *r = NULL;
	for (size_t i = 0; i < s->n; i++)
		if (s->recs[i].sport == sport) {
			assert_null(r); /* exactly one record per key */
			r = &s->recs[i];
		}
	assert_non_null(r);
	return r;
}

void assert_last(const struct fr_conn *r, uint64_t sent)
{
	assert_int_equal(r->last_sent_bytes, sent);
	assert_int_equal(r->last_recv_bytes, sent * 2);
	assert_int_equal(r->last_sent_packets, sent * 3);
	assert_int_equal(r->last_recv_packets, sent * 5);
	assert_int_equal(r->last_retransmits, sent * 7);
}

struct fr_state_stats stats(struct fr_state *st)
{
	struct fr_state_stats s;
	assert_int_equal(fr_state_stats_mc(st, &s, NULL, NULL), 0);
	return s;
}

int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->st = fr_state_new_sp(NULL);
	assert_non_null(f->st);
	*state = f;
	return 0;
}

int teardown(void **state)
{
	struct fixture *f = *state;
	fr_state_free_sp(f->st);
	free(f->sink.recs);
	free(f);
	return 0;
}

int dump_cb(void *ctx, const char *text, const struct fr_state_totals *t)
{
	struct dump_seen *d = ctx;
	assert_true(d->n < 4);
	snprintf(d->text[d->n], sizeof(d->text[0]), "%s", text);
	d->t[d->n++] = *t;
	return 0;
}

struct fr_conn conn_between(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t type)
{
	struct fr_conn c;
	int af = strchr(src, ':') ? AF_INET6 : AF_INET;

	memset(&c, 0, sizeof(c));
	assert_int_equal(inet_pton(af, src, c.saddr), 1);
	assert_int_equal(inet_pton(af, dst, c.daddr), 1);
	c.family = af == AF_INET6 ? FR_CONN_V6 : FR_CONN_V4;
	c.sport = sport;
	c.dport = dport;
	c.type = type;
	return c;
}
