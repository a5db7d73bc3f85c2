/* cli_fake.c - test_cli's fake producer (events region, snapshot regions, a control server thread
 * answering like flowringd) and its strict little JSON checker (see cli_fake.h). */
#define _GNU_SOURCE
#include "cli_fake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define HB_MS 60000u /* the fake never heartbeats: one beat at creation stays fresh */

char tmpdir[128], sock_path[200], instance[32];

/* ---- the known records ---- */

static void set_addrs(struct fr_conn *c, int af, const char *src, const char *dst)
{
	inet_pton(af, src, c->saddr);
	inet_pton(af, dst, c->daddr);
}

/* The reply direction conntrack reports for a NATed connection. */
static void set_nat(struct fr_conn *c, int af, const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	c->flags = FR_CONN_F_NAT;
	inet_pton(af, src, c->nat.repl_saddr);
	inet_pton(af, dst, c->nat.repl_daddr);
	c->nat.repl_sport = sport, c->nat.repl_dport = dport;
}

void known_records(struct fr_conn out[NKNOWN])
{
	memset(out, 0, NKNOWN * sizeof(*out));
	/* 0: v4 TCP outgoing with NAT */
	set_addrs(&out[0], AF_INET, "10.1.2.3", "10.9.8.7");
	out[0].sport = 40001, out[0].dport = 443, out[0].pid = 4242, out[0].type = FR_CONN_TCP;
	out[0].family = FR_CONN_V4, out[0].direction = FR_DIR_OUTGOING;
	out[0].monotonic_sent_bytes = 1234, out[0].last_sent_bytes = 234;
	out[0].monotonic_recv_bytes = 5u << 20, out[0].last_recv_bytes = 1u << 20;
	out[0].monotonic_retransmits = 3, out[0].last_retransmits = 1, out[0].rtt_us = 150, out[0].rtt_var_us = 20;
	set_nat(&out[0], AF_INET, "192.168.9.9", "10.9.8.7", 5000, 443);
	/* 1: v4 UDP, no NAT */
	set_addrs(&out[1], AF_INET, "127.0.0.1", "127.0.0.53");
	out[1].sport = 53000, out[1].dport = 53, out[1].pid = 77, out[1].type = FR_CONN_UDP;
	out[1].direction = FR_DIR_LOCAL, out[1].monotonic_sent_bytes = 40, out[1].last_sent_bytes = 40;
	/* 2: v6 TCP incoming, NAT */
	set_addrs(&out[2], AF_INET6, "2001:db8::1", "2001:db8::2");
	out[2].sport = 8080, out[2].dport = 51000, out[2].pid = 99, out[2].type = FR_CONN_TCP;
	out[2].family = FR_CONN_V6, out[2].direction = FR_DIR_INCOMING, out[2].rtt_us = 2500;
	set_nat(&out[2], AF_INET6, "2001:db8::99", "2001:db8::1", 80, 51000);
	/* 3: v6 TCP closed, no NAT */
	set_addrs(&out[3], AF_INET6, "::1", "::1");
	out[3].sport = 6000, out[3].dport = 6001, out[3].pid = 1, out[3].type = FR_CONN_TCP;
	out[3].family = FR_CONN_V6, out[3].direction = FR_DIR_LOCAL, out[3].flags = FR_CONN_F_CLOSED;
	out[3].end_ns = 5, out[3].monotonic_recv_bytes = 7, out[3].last_recv_bytes = 7;
}

/* ---- fake daemon: control server thread owning the snapshot writers ---- */

struct fake_producer fake = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct fake_client *fake_find(const char *id)
{
	for (unsigned i = 0; i < 8; i++)
		if (fake.c[i].used && strcmp(fake.c[i].id, id) == 0)
			return &fake.c[i];
	return NULL;
}

static int fake_register(void *ctx, const char *id, int64_t publish_interval_ms, const struct fr_ctl_peer *peer,
			 struct fr_ctl_register_reply *out)
{
	struct fr_snapshot_params sp = {.shm_dir = tmpdir, .instance = instance, .client_id = id, .slots = 3,
					.capacity = 2, .heartbeat_interval_ms = HB_MS, .gid = (gid_t)-1};
	struct fake_client *c;
	int rc = 0;
	(void)ctx, (void)peer;
	pthread_mutex_lock(&fake.mu);
	c = fake_find(id);
	out->created = !c;
	for (unsigned i = 0; !c && i < 8; i++)
		if (!fake.c[i].used) {
			c = &fake.c[i];
			memset(c, 0, sizeof(*c));
			snprintf(c->id, sizeof(c->id), "%s", id);
			rc = fr_snapshot_create(&c->w, &sp);
			c->used = rc == 0;
		}
	if (!c)
		rc = -EUSERS;
	else if (rc == 0) {
		out->generation = c->w.region.hdr->generation;
		c->publish_interval_ms = publish_interval_ms;
	}
	pthread_mutex_unlock(&fake.mu);
	return rc;
}

int fake_unregister(void *ctx, const char *id, const struct fr_ctl_peer *peer)
{
	struct fake_client *c;
	(void)ctx, (void)peer;
	pthread_mutex_lock(&fake.mu);
	c = fake_find(id);
	if (c) {
		fr_snapshot_retire(&c->w);
		c->used = false;
		fake.unregisters++;
		snprintf(fake.last_unregistered, sizeof(fake.last_unregistered), "%s", id);
	}
	pthread_mutex_unlock(&fake.mu);
	return c ? 0 : -ENOENT;
}

static int fake_publish(struct fake_client *c, const struct fr_conn *recs, unsigned n)
{
	int rc = fr_snapshot_begin_sp(&c->w, fr_now_ns(), 0);
	for (unsigned i = 0; rc == 0 && i < n; i++)
		rc = fr_snapshot_append_sp(&c->w, &recs[i]);
	return rc ? rc : fr_snapshot_commit_sp(&c->w);
}

/* "periodic": a newer snapshot lands before the CLI reads the one it asked for.
 * "grow": round k holds 4k records, so the region regrows (new generation) between rounds. */
static int fake_snapshot(void *ctx, const char *id, struct fr_ctl_snapshot_reply *out)
{
	struct fr_conn recs[64], known[NKNOWN];
	struct fake_client *c;
	unsigned n = NKNOWN;
	int rc = -ENOENT;
	(void)ctx;
	known_records(known);
	pthread_mutex_lock(&fake.mu);
	c = fake_find(id);
	if (!c)
		goto out;
	c->rounds++;
	if (strcmp(id, "grow") == 0)
		n = 4 * c->rounds < 64 ? 4 * c->rounds : 64;
	for (unsigned i = 0; i < n; i++) {
		recs[i] = known[i % NKNOWN];
		recs[i].sport = (uint16_t)(recs[i].sport + i / NKNOWN);
	}
	rc = fake_publish(c, recs, n);
	if (rc)
		goto out;
	out->generation = c->w.region.hdr->generation;
	out->seq = c->w.next - 1;
	out->slot = (uint32_t)(out->seq % c->w.slots);
	out->records = n;
	if (strcmp(id, "periodic") == 0)
		rc = fake_publish(c, &known[1], 1);
out:
	pthread_mutex_unlock(&fake.mu);
	return rc;
}

static int fake_clients(void *ctx, struct fr_ctl_reply *r)
{
	int rc = 0;
	(void)ctx;
	pthread_mutex_lock(&fake.mu);
	for (unsigned i = 0; i < 8 && rc == 0; i++) {
		if (!fake.c[i].used)
			continue;
		struct fr_ctl_client_item it = {.keys = 10 + i, .closed = 3, .idle_ms = 250};
		snprintf(it.id, sizeof(it.id), "%s", fake.c[i].id);
		rc = fr_ctl_reply_add_client(r, &it);
	}
	pthread_mutex_unlock(&fake.mu);
	return rc;
}

static int fake_dump(void *ctx, const char *id, struct fr_ctl_reply *r)
{
	struct fr_ctl_dump_item it = {.sent = 1234, .recv = 99, .retransmits = 2};
	int found;
	(void)ctx;
	pthread_mutex_lock(&fake.mu);
	found = fake_find(id) != NULL;
	pthread_mutex_unlock(&fake.mu);
	if (!found)
		return -ENOENT;
	/* "big": enough items for several reply messages (FR_CTL_F_MORE) */
	for (unsigned i = 0; i < (strcmp(id, "big") == 0 ? 60u : 1u); i++) {
		snprintf(it.key, sizeof(it.key), "p:4242|src:10.1.2.3:%u|dst:10.9.8.7:443|f:0|t:0", 40001 + i);
		int rc = fr_ctl_reply_add_dump(r, &it);
		if (rc)
			return rc;
	}
	return 0;
}

static void *fake_loop(void *arg)
{
	struct pollfd p = {.fd = fr_ctl_server_fd(fake.srv), .events = POLLIN};
	(void)arg;
	/* acquire: pairs with the release store of stop in teardown */
	while (!__atomic_load_n(&fake.stop, __ATOMIC_ACQUIRE)) {
		if (poll(&p, 1, 20) > 0)
			fr_ctl_server_dispatch(fake.srv);
	}
	return NULL;
}

/* ---- the events region, start and stop, what the fake saw ---- */

struct fr_events_writer ev;
static bool ev_open;

void events_make(uint32_t capacity)
{
	struct fr_events_params p = {.shm_dir = tmpdir, .instance = instance, .capacity = capacity,
				     .heartbeat_interval_ms = HB_MS, .gid = (gid_t)-1};
	if (ev_open)
		fr_events_retire(&ev);
	assert_int_equal(fr_events_create(&ev, &p), 0);
	ev_open = true;
}

void events_publish(uint16_t first_sport, unsigned n)
{
	struct fr_conn known[NKNOWN], c;
	known_records(known);
	for (unsigned i = 0; i < n; i++) {
		c = known[i % NKNOWN];
		c.flags |= FR_CONN_F_CLOSED;
		c.end_ns = 1000 + i;
		c.sport = (uint16_t)(first_sport + i);
		fr_events_publish_sp(&ev, &c);
	}
	fr_events_flush_sp(&ev);
}

int fake_producer_start(void)
{
	struct fr_ctl_server_opts so = {0};
	struct fr_ctl_handler h = {.register_client = fake_register, .unregister_client = fake_unregister,
				   .snapshot = fake_snapshot, .clients = fake_clients, .dump = fake_dump};
	char err[256];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fr-test-cli-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", tmpdir);
	snprintf(instance, sizeof(instance), "t%d", (int)getpid());
	so.path = sock_path;
	fake.srv = fr_ctl_server_open(&so, &h, err, sizeof(err));
	if (!fake.srv) {
		fprintf(stderr, "control server: %s\n", err);
		return -1;
	}
	return pthread_create(&fake.thread, NULL, fake_loop, NULL) == 0 ? 0 : -1;
}

int fake_producer_stop(void)
{
	char cmd[256];
	/* release: pairs with the acquire load in fake_loop */
	__atomic_store_n(&fake.stop, 1, __ATOMIC_RELEASE);
	pthread_join(fake.thread, NULL);
	fr_ctl_server_close(fake.srv);
	for (unsigned i = 0; i < 8; i++)
		if (fake.c[i].used)
			fr_snapshot_retire(&fake.c[i].w);
	if (ev_open)
		fr_events_retire(&ev);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

unsigned unregisters(char *last, size_t len)
{
	unsigned n;
	pthread_mutex_lock(&fake.mu);
	n = fake.unregisters;
	snprintf(last, len, "%s", fake.last_unregistered);
	pthread_mutex_unlock(&fake.mu);
	return n;
}

bool registered(const char *id)
{
	bool r;
	pthread_mutex_lock(&fake.mu);
	r = fake_find(id) != NULL;
	pthread_mutex_unlock(&fake.mu);
	return r;
}

/* ---- a strict little JSON checker: validates a whole line and fetches top-level values ---- */

static const char *js_value(const char *p, int depth);

static const char *js_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *js_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p && *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\' && !*++p)
			return NULL;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *js_compound(const char *p, int depth, char open, char close)
{
	if (*p++ != open || depth > 8)
		return NULL;
	p = js_ws(p);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (open == '{') {
			p = js_string(js_ws(p));
			if (!p || *(p = js_ws(p)) != ':')
				return NULL;
			p++;
		}
		p = js_value(js_ws(p), depth + 1);
		if (!p)
			return NULL;
		p = js_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *js_value(const char *p, int depth)
{
	p = js_ws(p);
	if (*p == '"')
		return js_string(p);
	if (*p == '{')
		return js_compound(p, depth, '{', '}');
	if (*p == '[')
		return js_compound(p, depth, '[', ']');
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	const char *q = p + (*p == '-');
	if (*q < '0' || *q > '9')
		return NULL;
	while ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' || *q == '-')
		q++;
	return q;
}

int js_get(const char *obj, const char *key, char *val, size_t len)
{
	const char *end = js_value(obj, 0), *p;
	if (!end || *obj != '{' || *js_ws(end) != '\0')
		return 0;
	val[0] = '\0';
	for (p = js_ws(obj + 1); *p != '}';) {
		const char *k = p, *ke = js_string(p);
		const char *v = js_ws(js_ws(ke) + 1), *ve = js_value(v, 1);
		if (ke - k - 2 == (long)strlen(key) && !strncmp(k + 1, key, strlen(key))) {
			size_t n = (size_t)(ve - v) < len ? (size_t)(ve - v) : len - 1;
			memcpy(val, v, n);
			val[n] = '\0';
			return 1;
		}
		p = js_ws(ve);
		p = js_ws(*p == ',' ? p + 1 : p);
	}
	return 1;
}

void assert_json_field(const char *obj, const char *key, const char *want)
{
	char v[512];
	if (!js_get(obj, key, v, sizeof(v)))
		fail_msg("not one JSON object: %s", obj);
	if (strcmp(v, want) != 0)
		fail_msg("%s: want %s, got '%s' in %s", key, want, v, obj);
}

int fake_producer_group_setup(void **state)
{
	(void)state;
	return fake_producer_start();
}

int fake_producer_group_teardown(void **state)
{
	(void)state;
	return fake_producer_stop();
}
