/* e2e_util.h - helpers of the end-to-end tests: run flowringd, make real connections from separate
 * processes with known byte counts, read telemetry by name. Test code: asserts nothing itself,
 * returns 0 or -errno. */
#ifndef FR_E2E_UTIL_H
#define FR_E2E_UTIL_H

#include <flowring/flowring.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct fr_e2e_daemon {
	pid_t pid;
	char dir[64];       /* temporary dir: ctl.sock, daemon.log */
	char shm[96];       /* the daemon's --shm-dir: /dev/shm/fr-e2e-XXXXXX (dir/shm without /dev/shm) */
	char instance[32];
	char sock[128];
	char log[96];       /* the daemon's stdout and stderr */
	bool host_mounts;   /* the daemon runs in our parent's mount namespace */
};

/* Start flowringd on a fresh temp dir; extra_args (NULL-terminated, may be NULL) are appended.
 * Waits until the control socket answers PING (BPF loading takes seconds). */
int fr_e2e_daemon_start(struct fr_e2e_daemon *d, const char *flowringd, const char *const *extra_args);
/* The same; with host_mounts the daemon runs in our parent's mount namespace (for tests started by
 * `ip netns exec`, whose private /sys lacks the cgroup2 mount the tracer needs). */
int fr_e2e_daemon_start_opts(struct fr_e2e_daemon *d, const char *flowringd, const char *const *extra_args,
			     bool host_mounts);
/* Start another flowringd with the same directories and instance (after a crash, or to race the
 * first one): the temp dir is kept. */
int fr_e2e_daemon_restart(struct fr_e2e_daemon *d, const char *flowringd, const char *const *extra_args);
/* SIGTERM, wait for exit status 0, then check nothing is left behind (regions, socket). Returns 0,
 * -ECHILD (bad exit), -EEXIST (a file was left behind). Removes the temp dir. */
int fr_e2e_daemon_stop(struct fr_e2e_daemon *d);

/* Run a program to completion with stdout+stderr captured into out (NUL-terminated, cut to cap).
 * Returns its exit code, or -errno. */
int fr_e2e_run(const char *const *argv, char *out, size_t cap, int timeout_s);
/* Print the daemon's log to stderr (for failed tests). */
void fr_e2e_daemon_dump_log(const struct fr_e2e_daemon *d);

/* One connection between two processes: the client (cpid, cport) sent c2s_bytes to the server
 * (spid, sport), which sent s2c_bytes back; both closed before the call returned. */
struct fr_e2e_flow {
	uint8_t type, family;
	pid_t cpid, spid;
	uint16_t cport, sport;
	uint64_t c2s_bytes, s2c_bytes;
};

int fr_e2e_tcp_pair(int af, uint64_t c2s, uint64_t s2c, struct fr_e2e_flow *out);
/* UDP: the client sends n datagrams of c2s_each bytes (connect()ed or sendto), the server answers each
 * with s2c_each bytes. */
int fr_e2e_udp_pair(int af, bool connected, unsigned n, unsigned c2s_each, unsigned s2c_each, struct fr_e2e_flow *out);
bool fr_e2e_flow_matches(const struct fr_e2e_flow *f, const struct fr_conn *c);

/* A long-lived loopback TCP connection between two child processes; the client sends on request. */
struct fr_e2e_long {
	pid_t cpid, spid;
	uint16_t cport, sport;
	int ctl; /* parent's end of the client's command pipe */
	int ack;
};
int fr_e2e_long_open(struct fr_e2e_long *l);
/* The client sends n bytes; returns once the server has received them. */
int fr_e2e_long_send(struct fr_e2e_long *l, uint32_t n);
void fr_e2e_long_close(struct fr_e2e_long *l);

/* Accept and close connections on ip:port (IPv4) until killed; returns 1 if it cannot listen. */
int fr_e2e_serve_forever(const char *ip, uint16_t port);

/* Value of the named telemetry counter (-ENOENT if absent). */
int fr_e2e_telemetry(const struct fr_events_reader *r, const char *name, uint64_t *out);
uint32_t fr_e2e_self_netns(void);

#endif /* FR_E2E_UTIL_H */
