/* Description: the flowring CLI end to end: the real binary against a fake producer in this process (events region, snapshot regions, control server on a temp socket) - exact JSON/table/Prometheus output, laps, generations, exit codes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <flowring/flowring.h>

#include "cli.h"
#include "control_server.h"
#include "events_ring.h"
#include "snapshot_ring.h"

extern char **environ;

#define HB_MS 60000u /* the fake never heartbeats: one beat at creation stays fresh */
#define EV_CAP 16u
#define NKNOWN 4

static char tmpdir[128], sock_path[200], instance[32];

/* ---- the known records ---- */

static void known_records(struct fr_conn out[NKNOWN])
{
	memset(out, 0, NKNOWN * sizeof(*out));
	/* 0: v4 TCP outgoing with NAT */
	inet_pton(AF_INET, "10.1.2.3", out[0].saddr);
	inet_pton(AF_INET, "10.9.8.7", out[0].daddr);
	out[0].sport = 40001, out[0].dport = 443, out[0].pid = 4242, out[0].type = FR_CONN_TCP;
	out[0].family = FR_CONN_V4, out[0].direction = FR_DIR_OUTGOING;
	out[0].monotonic_sent_bytes = 1234, out[0].last_sent_bytes = 234;
	out[0].monotonic_recv_bytes = 5u << 20, out[0].last_recv_bytes = 1u << 20;
	out[0].monotonic_retransmits = 3, out[0].last_retransmits = 1, out[0].rtt_us = 150, out[0].rtt_var_us = 20;
	out[0].flags = FR_CONN_F_NAT;
	inet_pton(AF_INET, "192.168.9.9", out[0].nat.repl_saddr);
	inet_pton(AF_INET, "10.9.8.7", out[0].nat.repl_daddr);
	out[0].nat.repl_sport = 5000, out[0].nat.repl_dport = 443;
	/* 1: v4 UDP, no NAT */
	inet_pton(AF_INET, "127.0.0.1", out[1].saddr);
	inet_pton(AF_INET, "127.0.0.53", out[1].daddr);
	out[1].sport = 53000, out[1].dport = 53, out[1].pid = 77, out[1].type = FR_CONN_UDP;
	out[1].direction = FR_DIR_LOCAL, out[1].monotonic_sent_bytes = 40, out[1].last_sent_bytes = 40;
	/* 2: v6 TCP incoming, NAT */
	inet_pton(AF_INET6, "2001:db8::1", out[2].saddr);
	inet_pton(AF_INET6, "2001:db8::2", out[2].daddr);
	out[2].sport = 8080, out[2].dport = 51000, out[2].pid = 99, out[2].type = FR_CONN_TCP;
	out[2].family = FR_CONN_V6, out[2].direction = FR_DIR_INCOMING, out[2].rtt_us = 2500;
	out[2].flags = FR_CONN_F_NAT;
	inet_pton(AF_INET6, "2001:db8::99", out[2].nat.repl_saddr);
	inet_pton(AF_INET6, "2001:db8::1", out[2].nat.repl_daddr);
	out[2].nat.repl_sport = 80, out[2].nat.repl_dport = 51000;
	/* 3: v6 TCP closed, no NAT */
	inet_pton(AF_INET6, "::1", out[3].saddr);
	inet_pton(AF_INET6, "::1", out[3].daddr);
	out[3].sport = 6000, out[3].dport = 6001, out[3].pid = 1, out[3].type = FR_CONN_TCP;
	out[3].family = FR_CONN_V6, out[3].direction = FR_DIR_LOCAL, out[3].flags = FR_CONN_F_CLOSED;
	out[3].end_ns = 5, out[3].monotonic_recv_bytes = 7, out[3].last_recv_bytes = 7;
}

/* ---- fake daemon: control server thread owning the snapshot writers ---- */

struct fake_client {
	char id[FR_NAME_MAX];
	struct fr_snapshot_writer w;
	unsigned rounds;
	bool used;
};

static struct {
	pthread_mutex_t mu;
	struct fake_client c[8];
	unsigned unregisters;
	char last_unregistered[FR_NAME_MAX];
	struct fr_ctl_server *srv;
	pthread_t thread;
	int stop;
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct fake_client *fake_find(const char *id)
{
	for (unsigned i = 0; i < 8; i++)
		if (fake.c[i].used && strcmp(fake.c[i].id, id) == 0)
			return &fake.c[i];
	return NULL;
}

static int fake_register(void *ctx, const char *id, const struct fr_ctl_peer *peer, struct fr_ctl_register_reply *out)
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
	else if (rc == 0)
		out->generation = c->w.region.hdr->generation;
	pthread_mutex_unlock(&fake.mu);
	return rc;
}

static int fake_unregister(void *ctx, const char *id, const struct fr_ctl_peer *peer)
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

/* ---- running the binary ---- */

struct run {
	int status; /* exit code, or 128+signal */
	char out[65536], err[8192];
	size_t nout;
};
static struct run run;

static void slurp(const char *path, char *buf, size_t cap, size_t *n)
{
	FILE *f = fopen(path, "r");
	size_t k = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[k] = '\0';
	if (n)
		*n = k;
	if (f)
		fclose(f);
}

static pid_t spawn_cli(const char *const *args)
{
	char *argv[32], op[256], ep[256];
	posix_spawn_file_actions_t fa;
	unsigned n = 0;
	pid_t pid;

	argv[n++] = (char *)FR_CLI_BIN;
	for (; *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	snprintf(op, sizeof(op), "%s/out", tmpdir);
	snprintf(ep, sizeof(ep), "%s/err", tmpdir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, op, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(posix_spawn(&pid, FR_CLI_BIN, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* Wait for pid at most 15 s (then kill it and fail); returns its wait status. */
static int wait_exit(pid_t pid)
{
	int st = 0, i;

	for (i = 0; i < 1500 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(10000);
	if (i == 1500) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("flowring did not exit within 15 s");
	}
	return st;
}

static void collect(pid_t pid)
{
	char path[256];
	int st = wait_exit(pid);

	run.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	snprintf(path, sizeof(path), "%s/out", tmpdir);
	slurp(path, run.out, sizeof(run.out), &run.nout);
	snprintf(path, sizeof(path), "%s/err", tmpdir);
	slurp(path, run.err, sizeof(run.err), NULL);
}

/* flowring <args> --shm-dir tmp --control sock --instance inst */
static int cli(const char *a0, ...)
{
	const char *args[32];
	unsigned n = 0;
	va_list ap;

	va_start(ap, a0);
	for (const char *a = a0; a && n < 24; a = va_arg(ap, const char *))
		args[n++] = a;
	va_end(ap);
	args[n++] = "--shm-dir", args[n++] = tmpdir, args[n++] = "--control", args[n++] = sock_path;
	args[n++] = "--instance", args[n++] = instance, args[n] = NULL;
	collect(spawn_cli(args));
	return run.status;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static unsigned count_str(const char *s, const char *needle)
{
	unsigned n = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static const char *nth_line(const char *s, unsigned k, char *buf, size_t len)
{
	for (unsigned i = 0; i < k && s; i++) {
		s = strchr(s, '\n');
		s = s ? s + 1 : NULL;
	}
	if (!s || !*s)
		return NULL;
	size_t n = strcspn(s, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
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

/* 1 if obj is exactly one valid JSON object; the raw text of top-level key into val. */
static int js_get(const char *obj, const char *key, char *val, size_t len)
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

static void assert_json_field(const char *obj, const char *key, const char *want)
{
	char v[512];
	if (!js_get(obj, key, v, sizeof(v)))
		fail_msg("not one JSON object: %s", obj);
	if (strcmp(v, want) != 0)
		fail_msg("%s: want %s, got '%s' in %s", key, want, v, obj);
}

/* ---- fixtures ---- */

static struct fr_events_writer ev;
static bool ev_open;

static void events_make(uint32_t capacity)
{
	struct fr_events_params p = {.shm_dir = tmpdir, .instance = instance, .capacity = capacity,
				     .heartbeat_interval_ms = HB_MS, .gid = (gid_t)-1};
	if (ev_open)
		fr_events_retire(&ev);
	assert_int_equal(fr_events_create(&ev, &p), 0);
	ev_open = true;
}

static void events_publish(uint16_t first_sport, unsigned n)
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

static int setup(void **state)
{
	struct fr_ctl_server_opts so = {0};
	struct fr_ctl_handler h = {.register_client = fake_register, .unregister_client = fake_unregister,
				   .snapshot = fake_snapshot, .clients = fake_clients, .dump = fake_dump};
	char err[256];
	(void)state;
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

static int teardown(void **state)
{
	char cmd[256];
	(void)state;
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

static unsigned unregisters(char *last, size_t len)
{
	unsigned n;
	pthread_mutex_lock(&fake.mu);
	n = fake.unregisters;
	snprintf(last, len, "%s", fake.last_unregistered);
	pthread_mutex_unlock(&fake.mu);
	return n;
}

static bool registered(const char *id)
{
	bool r;
	pthread_mutex_lock(&fake.mu);
	r = fake_find(id) != NULL;
	pthread_mutex_unlock(&fake.mu);
	return r;
}

/* ---- conns ---- */

static void wait_lines(unsigned n)
{
	char path[256];
	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "%s/out", tmpdir);
		slurp(path, run.out, sizeof(run.out), &run.nout);
		if (count_lines(run.out) >= n)
			return;
		usleep(10000);
	}
	fail_msg("flowring printed %u lines, not %u", count_lines(run.out), n);
}

/* Poll the running CLI's stdout (10 s at most) until needle occurs n times. */
static void wait_count(const char *needle, unsigned n)
{
	char path[256];
	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "%s/out", tmpdir);
		slurp(path, run.out, sizeof(run.out), &run.nout);
		if (count_str(run.out, needle) >= n)
			return;
		usleep(10000);
	}
	fail_msg("flowring printed '%s' %u times, not %u", needle, count_str(run.out, needle), n);
}

static void wait_output(const char *needle)
{
	wait_count(needle, 1);
}


static void test_conns_json_lines_carry_the_known_records(void **state)
{
	char line[2048];
	(void)state;
	assert_int_equal(cli("conns", "--json", "--client", "j1", NULL), 0);
	assert_int_equal(count_lines(run.out), NKNOWN);
	/* v4 TCP with NAT */
	assert_non_null(nth_line(run.out, 0, line, sizeof(line)));
	assert_json_field(line, "src", "\"10.1.2.3\"");
	assert_json_field(line, "dst", "\"10.9.8.7\"");
	assert_json_field(line, "sport", "40001");
	assert_json_field(line, "type", "\"tcp\"");
	assert_json_field(line, "family", "\"v4\"");
	assert_json_field(line, "direction", "\"outgoing\"");
	assert_json_field(line, "pid", "4242");
	assert_json_field(line, "monotonic_sent_bytes", "1234");
	assert_json_field(line, "last_sent_bytes", "234");
	assert_json_field(line, "last_recv_bytes", "1048576");
	assert_json_field(line, "last_retransmits", "1");
	assert_json_field(line, "ip_translation",
			  "{\"repl_src_ip\":\"192.168.9.9\",\"repl_dst_ip\":\"10.9.8.7\",\"repl_src_port\":5000,"
			  "\"repl_dst_port\":443}");
	/* v4 UDP without NAT */
	assert_non_null(nth_line(run.out, 1, line, sizeof(line)));
	assert_json_field(line, "type", "\"udp\"");
	assert_json_field(line, "dport", "53");
	assert_json_field(line, "ip_translation", "null");
	/* v6 with NAT, v6 closed without */
	assert_non_null(nth_line(run.out, 2, line, sizeof(line)));
	assert_json_field(line, "src", "\"2001:db8::1\"");
	assert_json_field(line, "family", "\"v6\"");
	assert_json_field(line, "direction", "\"incoming\"");
	assert_json_field(line, "ip_translation",
			  "{\"repl_src_ip\":\"2001:db8::99\",\"repl_dst_ip\":\"2001:db8::1\",\"repl_src_port\":80,"
			  "\"repl_dst_port\":51000}");
	assert_non_null(nth_line(run.out, 3, line, sizeof(line)));
	assert_json_field(line, "src", "\"::1\"");
	assert_json_field(line, "ip_translation", "null");
	assert_json_field(line, "flags", "[\"closed\"]");
	/* --client: the client stays registered */
	assert_true(registered("j1"));
}

/* Every needle occurs in line. */
static void assert_has(const char *line, ...)
{
	va_list ap;
	va_start(ap, line);
	for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
		if (!strstr(line, w))
			fail_msg("'%s' not in: %s", w, line);
	va_end(ap);
}

static void test_conns_table_has_the_expected_rows_and_unregisters(void **state)
{
	char id[FR_NAME_MAX], last[FR_NAME_MAX], line[512];
	unsigned before = unregisters(last, sizeof(last));
	(void)state;
	snprintf(id, sizeof(id), "cli-%u", (unsigned)getuid());
	assert_int_equal(cli("conns", NULL), 0);
	assert_int_equal(count_lines(run.out), 1 + NKNOWN);
	assert_has(nth_line(run.out, 0, line, sizeof(line)), "Proto", "Local Address:Port", "Peer Address:Port", "Dir",
		   "Pid", "Sent", "Recv", "Retrans", "RTT/Var", "State", "NAT", NULL);
	assert_has(nth_line(run.out, 1, line, sizeof(line)), "tcp ", "10.1.2.3:40001", "10.9.8.7:443", "outgoing",
		   "4242", "1.2K(+234B)", "5.0M(+1.0M)", "3(+1)", "150us/20us", "active",
		   "192.168.9.9:5000->10.9.8.7:443", NULL);
	assert_has(nth_line(run.out, 2, line, sizeof(line)), "udp ", "127.0.0.1:53000", "127.0.0.53:53", "local", "77",
		   "40B(+40B)", " - ", "active", NULL);
	assert_true(line[strlen(line) - 1] == '-'); /* no NAT */
	assert_has(nth_line(run.out, 3, line, sizeof(line)), "tcp6 ", "[2001:db8::1]:8080", "[2001:db8::2]:51000",
		   "incoming", "2.50ms/0us", "[2001:db8::99]:80->[2001:db8::1]:51000", NULL);
	assert_has(nth_line(run.out, 4, line, sizeof(line)), "tcp6 ", "[::1]:6000", "[::1]:6001", "closed",
		   "7B(+7B)", NULL);
	/* the default client was created by this run: unregistered at exit */
	assert_int_equal(unregisters(last, sizeof(last)), before + 1);
	assert_string_equal(last, id);
	assert_false(registered(id));
}

static void test_conns_unregisters_when_its_reader_goes_away(void **state)
{
	const char *argv[] = {FR_CLI_BIN, "conns", "--watch", "--interval", "50ms", "--shm-dir", tmpdir, "--control",
			      sock_path, "--instance", instance, NULL};
	char id[FR_NAME_MAX], last[FR_NAME_MAX];
	unsigned before = unregisters(last, sizeof(last));
	posix_spawn_file_actions_t fa;
	int pfd[2], st;
	pid_t pid;
	(void)state;
	snprintf(id, sizeof(id), "cli-%u", (unsigned)getuid());
	assert_int_equal(pipe(pfd), 0);
	close(pfd[0]); /* `flowring conns --watch | head` after head exited */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	assert_int_equal(posix_spawn(&pid, FR_CLI_BIN, &fa, NULL, (char **)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	st = wait_exit(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(unregisters(last, sizeof(last)), before + 1);
	assert_false(registered(id));
}

static void test_conns_keep_leaves_the_client_registered(void **state)
{
	char id[FR_NAME_MAX], last[FR_NAME_MAX];
	unsigned before = unregisters(last, sizeof(last));
	(void)state;
	snprintf(id, sizeof(id), "cli-%u", (unsigned)getuid());
	assert_int_equal(cli("conns", "--keep", NULL), 0);
	assert_int_equal(unregisters(last, sizeof(last)), before);
	assert_true(registered(id));
	/* a later run did not create it, so it does not remove it either */
	assert_int_equal(cli("conns", "--json", NULL), 0);
	assert_int_equal(count_lines(run.out), NKNOWN);
	assert_true(registered(id));
	assert_int_equal(fake_unregister(NULL, id, NULL), 0);
}

static void test_conns_reads_the_snapshot_it_asked_for_not_a_newer_one(void **state)
{
	(void)state;
	/* the fake commits snapshot n (4 records), then n+1 (1 record), and names n */
	assert_int_equal(cli("conns", "--json", "--client", "periodic", NULL), 0);
	assert_int_equal(count_lines(run.out), NKNOWN);
	assert_int_equal(cli("conns", "--json", "--client", "periodic", NULL), 0);
	assert_int_equal(count_lines(run.out), NKNOWN);
}

static void test_conns_watch_follows_regrown_regions_and_exits_on_sigint(void **state)
{
	const char *args[] = {"conns", "--watch", "--interval", "100ms", "--client", "grow", "--shm-dir", tmpdir,
			      "--control", sock_path, "--instance", instance, NULL};
	char want[64];
	(void)state;
	pid_t pid = spawn_cli(args);
	/* rounds grow by 4 records and the slots start at 2: every round needs a new generation */
	wait_output("\n12 connections: ");
	kill(pid, SIGINT);
	collect(pid);
	assert_int_equal(run.status, 0);
	assert_true(count_str(run.out, "flowring conns - ") >= 3);
	for (unsigned k = 1; k <= 3; k++) {
		snprintf(want, sizeof(want), "\n%u connections: ", 4 * k);
		if (!strstr(run.out, want))
			fail_msg("no round with %u records in:\n%s", 4 * k, run.out);
	}
	assert_has(run.out, "instance ", "client grow", "since last: sent", NULL);
	assert_string_equal(run.err, "");
	assert_true(registered("grow")); /* --client: kept */
	pthread_mutex_lock(&fake.mu);
	uint64_t gen = fake_find("grow")->w.region.hdr->generation;
	pthread_mutex_unlock(&fake.mu);
	assert_true(gen >= 4); /* the CLI really had to follow regrown regions */
}

static void test_conns_watch_registers_again_after_the_client_expired(void **state)
{
	const char *args[] = {"conns", "--watch", "--interval", "50ms", "--client", "exp", "--shm-dir", tmpdir,
			      "--control", sock_path, "--instance", instance, NULL};
	(void)state;
	pid_t pid = spawn_cli(args);
	wait_output("snapshot 2,");
	/* the daemon drops the client (expiry): its region is retired and removed; the next round gets
	 * NO_CLIENT, registers again and must follow the new region (numbering restarts at 1) */
	assert_int_equal(fake_unregister(NULL, "exp", NULL), 0);
	wait_output("snapshot 1, every 50 ms\n4 connections");
	wait_output("snapshot 1, every 50 ms\n4 connections: 3 tcp, 1 udp; 3 active, 1 closed");
	wait_count("flowring conns - ", count_str(run.out, "flowring conns - ") + 2);
	kill(pid, SIGINT);
	collect(pid);
	assert_int_equal(run.status, 0);
	assert_string_equal(run.err, "");
	assert_true(registered("exp"));
	assert_int_equal(count_str(run.out, ", snapshot 1, "), 2); /* before and after the expiry */
}

static void test_conns_without_daemon_exits_1_naming_the_socket(void **state)
{
	char absent[256];
	const char *args[] = {"conns", "--control", absent, "--shm-dir", tmpdir, NULL};
	(void)state;
	snprintf(absent, sizeof(absent), "%s/absent.sock", tmpdir);
	collect(spawn_cli(args));
	assert_int_equal(run.status, 1);
	assert_has(run.err, absent, "not running", "flowringd --instance default --control ", NULL);
	assert_string_equal(run.out, "");
}

static void test_bad_usage_exits_2_with_a_message(void **state)
{
	static const struct {
		const char *args[6];
		const char *msg;
	} cases[] = {
		{{"bogus"}, "unknown command 'bogus'"},
		{{NULL}, "missing command"},
		{{"conns", "--frob"}, "flowring conns: unknown option '--frob'"},
		{{"conns", "--interval", "1s"}, "--interval needs --watch"},
		{{"conns", "--watch", "--interval", "soon"}, "invalid --interval 'soon'"},
		{{"conns", "--client", "a/b"}, "invalid client id 'a/b'"},
		{{"events", "--count", "0"}, "invalid --count '0'"},
		{{"events", "--count"}, "option '--count' needs a value"},
		{{"events", "extra"}, "unexpected argument 'extra'"},
		{{"stats", "--json", "--prometheus"}, "exclusive"},
		{{"dump"}, "--client ID is required"},
		{{"clients", "--client", "x"}, "unknown option '--client'"},
		{{"--instance", "../x", "stats"}, "invalid --instance '../x'"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		collect(spawn_cli(cases[i].args));
		if (run.status != 2 || !strstr(run.err, cases[i].msg) || !strstr(run.err, "--help'"))
			fail_msg("case %zu: exit %d, stderr: %s", i, run.status, run.err);
		assert_string_equal(run.out, "");
	}
	/* --help and --version are not errors */
	collect(spawn_cli((const char *[]){"conns", "--help", NULL}));
	assert_int_equal(run.status, 0);
	assert_has(run.out, "Usage: flowring conns", "--watch", NULL);
	collect(spawn_cli((const char *[]){"--version", NULL}));
	assert_int_equal(run.status, 0);
	assert_has(run.out, "flowring ", "consumer SDK " FLOWRING_SDK_VERSION, NULL);
}

static void test_conns_with_another_shm_dir_than_the_daemon_exits_1(void **state)
{
	const char *args[] = {"conns", "--client", "wrongdir", "--shm-dir", "/nonexistent", "--control", sock_path,
			      "--instance", instance, NULL};
	(void)state;
	collect(spawn_cli(args));
	assert_int_equal(run.status, 1);
	assert_has(run.err, "/nonexistent/flowring.", ".client.wrongdir", "do --shm-dir and --instance match", NULL);
}

/* ---- clients, dump ---- */

static void test_clients_and_dump_print_the_daemon_lists(void **state)
{
	char line[512];
	(void)state;
	assert_int_equal(cli("conns", "--client", "d1", "--json", NULL), 0);
	assert_int_equal(cli("clients", "--json", NULL), 0);
	assert_has(run.out, "{\"id\":\"d1\",\"keys\":", ",\"closed\":3,\"idle_ms\":250}\n", NULL);
	for (unsigned i = 0; nth_line(run.out, i, line, sizeof(line)); i++)
		assert_json_field(line, "closed", "3");
	assert_int_equal(cli("clients", NULL), 0);
	assert_has(run.out, "Client", "Idle(ms)", "d1 ", NULL);
	assert_int_equal(cli("dump", "--client", "d1", "--json", NULL), 0);
	assert_int_equal(count_lines(run.out), 1);
	assert_json_field(nth_line(run.out, 0, line, sizeof(line)), "key",
			  "\"p:4242|src:10.1.2.3:40001|dst:10.9.8.7:443|f:0|t:0\"");
	assert_json_field(line, "sent", "1234");
	assert_json_field(line, "recv", "99");
	assert_json_field(line, "retransmits", "2");
	assert_int_equal(cli("conns", "--client", "big", "--json", NULL), 0);
	assert_int_equal(cli("dump", "--client", "big", NULL), 0);
	assert_int_equal(count_lines(run.out), 1 + 60);
	assert_int_equal(count_str(run.out, "Key "), 1);
	assert_has(run.out, "p:4242|src:10.1.2.3:40060|dst:10.9.8.7:443|f:0|t:0", NULL);
	assert_int_equal(cli("dump", "--client", "nobody", NULL), 1);
	assert_has(run.err, "no client 'nobody'", NULL);
}

/* ---- events ---- */

static void test_events_count_prints_exactly_n_from_the_oldest(void **state)
{
	char line[2048], want[16];
	(void)state;
	events_make(EV_CAP);
	events_publish(1000, 10);
	assert_int_equal(cli("events", "--json", "--count", "3", NULL), 0);
	assert_int_equal(count_lines(run.out), 3);
	for (unsigned i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "%u", 1000 + i);
		assert_json_field(nth_line(run.out, i, line, sizeof(line)), "sport", want);
		assert_json_field(line, "flags", i % NKNOWN != 1 ? "[\"closed\",\"nat\"]" : "[\"closed\"]");
	}
	/* without --count: everything the ring holds, then exit */
	assert_int_equal(cli("events", NULL), 0);
	assert_int_equal(count_lines(run.out), 1 + 10);
	assert_has(nth_line(run.out, 10, line, sizeof(line)), "udp ", "127.0.0.1:1009", "closed", NULL);
	assert_string_equal(run.err, "");
}

static void test_events_reports_exact_loss_when_lapped(void **state)
{
	const char *args[] = {"events", "--follow", "--from-start", "--json", "--count", "17", "--shm-dir", tmpdir,
			      "--instance", instance, NULL};
	char line[2048];
	(void)state;
	events_make(EV_CAP);
	events_publish(2000, 1);
	pid_t pid = spawn_cli(args);
	wait_lines(1); /* it has read the one record and waits for more */
	kill(pid, SIGSTOP);
	/* 16 + 5 records while it is stopped: the 5 oldest of them are overwritten before it reads */
	events_publish(3000, EV_CAP + 5);
	kill(pid, SIGCONT);
	collect(pid);
	assert_int_equal(run.status, 0);
	assert_int_equal(count_lines(run.out), 17);
	assert_json_field(nth_line(run.out, 0, line, sizeof(line)), "sport", "2000");
	assert_json_field(nth_line(run.out, 1, line, sizeof(line)), "sport", "3005");
	assert_json_field(nth_line(run.out, 16, line, sizeof(line)), "sport", "3020");
	assert_string_equal(run.err, "flowring events: lapped: lost 5 records\n");
}

static void test_events_follow_reopens_a_new_generation(void **state)
{
	const char *args[] = {"events", "--follow", "--from-start", "--json", "--count", "2", "--shm-dir", tmpdir,
			      "--instance", instance, NULL};
	char line[2048];
	(void)state;
	events_make(EV_CAP);
	events_publish(7000, 1);
	pid_t pid = spawn_cli(args);
	wait_lines(1);
	events_make(EV_CAP); /* the producer restarts: retire, then a new generation under the name */
	events_publish(8000, 1);
	collect(pid);
	assert_int_equal(run.status, 0);
	assert_int_equal(count_lines(run.out), 2);
	assert_json_field(nth_line(run.out, 1, line, sizeof(line)), "sport", "8000");
	assert_has(run.err, "new region (generation ", NULL);
}

static void test_events_without_producer_exits_1_naming_the_region(void **state)
{
	const char *args[] = {"events", "--instance", "nosuch", "--shm-dir", tmpdir, NULL};
	char path[256];
	(void)state;
	collect(spawn_cli(args));
	snprintf(path, sizeof(path), "%s/flowring.nosuch.events", tmpdir);
	assert_int_equal(run.status, 1);
	assert_has(run.err, path, "not running", "flowringd --instance nosuch", NULL);
}

static void test_events_of_a_dead_producer_prints_its_records_and_says_so(void **state)
{
	struct fr_events_params p = {.shm_dir = tmpdir, .instance = "deadprod", .capacity = EV_CAP,
				     .heartbeat_interval_ms = 10, .gid = (gid_t)-1};
	const char *args[] = {"events", "--json", "--instance", "deadprod", "--shm-dir", tmpdir, NULL};
	struct fr_events_writer w;
	struct fr_conn c[NKNOWN];
	char line[2048];
	pid_t dead = fork();
	(void)state;
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	assert_int_equal(fr_events_create(&w, &p), 0);
	known_records(c);
	c[0].sport = 4321;
	fr_events_publish_sp(&w, &c[0]);
	fr_events_flush_sp(&w);
	/* as if the process that made it had died: its pid is gone and the heartbeat is old */
	w.region.hdr->producer_pid = (uint32_t)dead;
	w.region.hdr->producer_start_time = 0;
	fr_events_heartbeat_sp(&w, 1);
	collect(spawn_cli(args));
	fr_events_retire(&w);
	assert_int_equal(run.status, 0);
	assert_int_equal(count_lines(run.out), 1);
	assert_json_field(nth_line(run.out, 0, line, sizeof(line)), "sport", "4321");
	assert_has(run.err, "is not running: these records are from its last run", NULL);
}

/* ---- stats ---- */

static void stats_fixture(void)
{
	events_make(EV_CAP);
	fr_telemetry_set(&ev.telemetry, FR_TM_CONNS_CLOSED, 7);
	fr_telemetry_set(&ev.telemetry, FR_TM_CLIENTS_CURRENT, 2);
	int a = fr_telemetry_register(&ev.telemetry, "bpf_prog_run_cnt:fr_tcp_state");
	int b = fr_telemetry_register(&ev.telemetry, "bpf_prog_run_time_ns:fr_tcp_state");
	int c = fr_telemetry_register(&ev.telemetry, "bpf_prog_run_cnt:fr_udp_send");
	assert_true(a >= 0 && b >= 0 && c >= 0);
	fr_telemetry_set(&ev.telemetry, (uint32_t)a, 11);
	fr_telemetry_set(&ev.telemetry, (uint32_t)b, 99);
	fr_telemetry_set(&ev.telemetry, (uint32_t)c, 5);
}

static void test_stats_prometheus_has_help_type_and_label_lines(void **state)
{
	(void)state;
	stats_fixture();
	assert_int_equal(cli("stats", "--prometheus", NULL), 0);
	assert_has(run.out,
		   "# HELP flowring_conns_closed closed connections ingested from the kernel\n"
		   "# TYPE flowring_conns_closed counter\nflowring_conns_closed 7\n",
		   "# TYPE flowring_clients_current gauge\nflowring_clients_current 2\n",
		   "# TYPE flowring_bpf_prog_run_cnt counter\n"
		   "flowring_bpf_prog_run_cnt{prog=\"fr_tcp_state\"} 11\n"
		   "flowring_bpf_prog_run_cnt{prog=\"fr_udp_send\"} 5\n",
		   "# TYPE flowring_bpf_prog_run_time_ns counter\n"
		   "flowring_bpf_prog_run_time_ns{prog=\"fr_tcp_state\"} 99\n",
		   "flowring_ctl_flood_refused 0\n", NULL);
	assert_int_equal(count_str(run.out, "# TYPE flowring_bpf_prog_run_cnt "), 1);
	assert_int_equal(count_str(run.out, "# HELP "), count_str(run.out, "# TYPE "));
	assert_int_equal(count_str(run.out, "# TYPE "), FR_TM__COUNT + 2);
	assert_int_equal(count_lines(run.out), 3 * FR_TM__COUNT + 2 * 2 + 3);
}

static void test_stats_json_is_one_object(void **state)
{
	char v[64];
	(void)state;
	stats_fixture();
	assert_int_equal(cli("stats", "--json", NULL), 0);
	assert_int_equal(count_lines(run.out), 1);
	run.out[strcspn(run.out, "\n")] = '\0';
	assert_json_field(run.out, "conns_closed", "7");
	assert_json_field(run.out, "bpf_prog_run_cnt:fr_udp_send", "5");
	assert_true(js_get(run.out, "clients_current", v, sizeof(v)) && strcmp(v, "2") == 0);
	assert_int_equal(cli("stats", NULL), 0);
	assert_int_equal(count_lines(run.out), FR_TM__COUNT + 3);
	assert_has(run.out, "conns_closed ", " 7\n", NULL);
}

/* ---- formatting units ---- */

static void test_byte_units_are_binary_and_short(void **state)
{
	char b[32];
	(void)state;
	fr_cli_fmt_bytes(0, b, sizeof(b));
	assert_string_equal(b, "0B");
	fr_cli_fmt_bytes(1023, b, sizeof(b));
	assert_string_equal(b, "1023B");
	fr_cli_fmt_bytes(1536, b, sizeof(b));
	assert_string_equal(b, "1.5K");
	fr_cli_fmt_bytes(500ull << 20, b, sizeof(b));
	assert_string_equal(b, "500M");
	fr_cli_fmt_bytes(3ull << 40, b, sizeof(b));
	assert_string_equal(b, "3.0T");
	fr_cli_fmt_usec(1500000, b, sizeof(b));
	assert_string_equal(b, "1.50s");
}

static void test_prometheus_escapes_label_values(void **state)
{
	struct fr_cli_stat s[2] = {{"bpf_prog_run_cnt:a\"b\\c", 1}, {"odd-name:x", 2}};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	(void)state;
	fr_cli_stats_prometheus(f, s, 2);
	fclose(f);
	assert_has(buf, "flowring_bpf_prog_run_cnt{prog=\"a\\\"b\\\\c\"} 1\n", "flowring_odd_name{name=\"x\"} 2\n",
		   "# TYPE flowring_odd_name counter\n", NULL);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conns_json_lines_carry_the_known_records),
		cmocka_unit_test(test_conns_table_has_the_expected_rows_and_unregisters),
		cmocka_unit_test(test_conns_unregisters_when_its_reader_goes_away),
		cmocka_unit_test(test_conns_keep_leaves_the_client_registered),
		cmocka_unit_test(test_conns_reads_the_snapshot_it_asked_for_not_a_newer_one),
		cmocka_unit_test(test_conns_watch_follows_regrown_regions_and_exits_on_sigint),
		cmocka_unit_test(test_conns_watch_registers_again_after_the_client_expired),
		cmocka_unit_test(test_conns_without_daemon_exits_1_naming_the_socket),
		cmocka_unit_test(test_conns_with_another_shm_dir_than_the_daemon_exits_1),
		cmocka_unit_test(test_bad_usage_exits_2_with_a_message),
		cmocka_unit_test(test_clients_and_dump_print_the_daemon_lists),
		cmocka_unit_test(test_events_count_prints_exactly_n_from_the_oldest),
		cmocka_unit_test(test_events_reports_exact_loss_when_lapped),
		cmocka_unit_test(test_events_follow_reopens_a_new_generation),
		cmocka_unit_test(test_events_without_producer_exits_1_naming_the_region),
		cmocka_unit_test(test_events_of_a_dead_producer_prints_its_records_and_says_so),
		cmocka_unit_test(test_stats_prometheus_has_help_type_and_label_lines),
		cmocka_unit_test(test_stats_json_is_one_object),
		cmocka_unit_test(test_byte_units_are_binary_and_short),
		cmocka_unit_test(test_prometheus_escapes_label_values),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
