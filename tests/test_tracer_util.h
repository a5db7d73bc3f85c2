/* test_tracer_util.h - helpers of the tracer root tests: collect records, generate traffic in
 * separate processes, run commands, namespaces. Every test filters records to its own ports. */
#ifndef FR_TEST_TRACER_UTIL_H
#define FR_TEST_TRACER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracer.h"

/* A listening-port event (fr_tracer_port_cb). */
struct fr_port_ev {
	uint32_t netns;
	uint8_t type;
	uint16_t port;
	bool listening;
};

struct fr_col {
	struct fr_conn *v;
	size_t n, cap;
	struct fr_port_ev *ports;
	size_t nports, capports;
};

void fr_col_cb(void *ctx, const struct fr_conn *c);
void fr_col_port_cb(void *ctx, uint32_t netns, uint8_t type, uint16_t port, bool listening);
void fr_col_free(struct fr_col *col);

/* Port events of (netns, type, port) collected so far: how many starts and stops. */
void fr_col_port_count(const struct fr_col *col, uint32_t netns, uint8_t type, uint16_t port, int *starts,
		       int *stops);

/* Exit 77 with a reason unless root. */
void fr_test_require_root(const char *prog);

/* Open a tracer collecting closed records and port events into col. */
struct fr_tracer *fr_test_tracer(struct fr_col *col, uint32_t netns, uint32_t ringbuf_bytes);

/* The same with o's settings (its callbacks and ctx are replaced by the collector's). */
struct fr_tracer *fr_test_tracer_opts(struct fr_col *col, struct fr_tracer_opts o);

/* Find the closed record of (type, sport, dport); NULL if none. */
const struct fr_conn *fr_col_find(const struct fr_col *col, int type, uint16_t sport, uint16_t dport);

/* Poll t until fr_col_find(type, sport, dport) succeeds or timeout_ms passes. */
const struct fr_conn *fr_col_wait(struct fr_tracer *t, struct fr_col *col, int type, uint16_t sport, uint16_t dport,
				  int timeout_ms);

/* Inode of a netns file (/proc/self/ns/net, /run/netns/NAME). */
uint32_t fr_netns_inode(const char *path);

/* system() with a formatted command; returns the exit status. */
int fr_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Join the named netns (in a child) and bring lo up. Returns 0 or -errno. */
int fr_enter_netns(const char *name);

int fr_write_full(int fd, const void *buf, size_t len);
int fr_read_full(int fd, void *buf, size_t len);
void fr_fill_pattern(char *buf, size_t len);

/* A TCP connection between this process (client) and a forked server. The server accepts one
 * connection, reads c2s bytes, writes s2c bytes, then closes first (server_closes_first) or after
 * the client's EOF. The client does the mirror image. Ports and the server's pid are returned. */
struct fr_tcp_run {
	int family;     /* AF_INET or AF_INET6 */
	const char *server_ns; /* netns names (NULL: current) and server address */
	const char *client_ns;
	const char *server_addr;
	size_t c2s, s2c;
	bool server_closes_first;
	/* out */
	uint16_t cport, sport;
	pid_t server_pid, client_pid;
};
int fr_tcp_run(struct fr_tcp_run *r);

/* UDP exchange between this process (client) and a forked server: n_req datagrams of
 * fr_udp_req_size(i) bytes to the server, n_rep of fr_udp_rep_size(i) back, both sockets
 * connect()ed or both unconnected (sendto/recvfrom), then both close. */
struct fr_udp_run {
	int family;
	bool connected;
	int n_req, n_rep;
	/* out */
	uint16_t cport, sport;
	pid_t server_pid, client_pid;
	uint64_t req_bytes, rep_bytes;
};
size_t fr_udp_req_size(int i);
size_t fr_udp_rep_size(int i);
int fr_udp_run(struct fr_udp_run *r);

/* The group fixture of the tracer tests: one tracer over all network namespaces, collecting closed
 * connections into g_col, opened before the first test and closed after the last. */
extern struct fr_col g_col;
extern struct fr_tracer *g_t;
extern uint32_t g_netns; /* inode of the test's own network namespace */
int fr_tt_group_setup(void **state);
int fr_tt_group_teardown(void **state);

#endif /* FR_TEST_TRACER_UTIL_H */
