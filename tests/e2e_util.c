/* e2e_util.c - see e2e_util.h. */
#define _GNU_SOURCE 1 /* setns */
#include "e2e_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control_client.h"

static int fr_e2e_spawn(struct fr_e2e_daemon *d, const char *flowringd, const char *const *extra)
{
	const char *argv[32];
	int n = 0;

	/* absolute: entering another mount namespace resets the working directory */
	char exe[PATH_MAX];
	if (!realpath(flowringd, exe))
		return -errno;
	argv[n++] = exe;
	argv[n++] = "--shm-dir";
	argv[n++] = d->shm;
	argv[n++] = "--control";
	argv[n++] = d->sock;
	argv[n++] = "--instance";
	argv[n++] = d->instance;
	for (int i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	/* our parent (the script that ran `ip netns exec`) still has the host's mounts */
	char mnt[64];
	snprintf(mnt, sizeof(mnt), "/proc/%d/ns/mnt", (int)getppid());
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (d->pid == 0) {
		/* a test that dies (or fails an assertion and skips its teardown) takes its daemon along */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* `ip netns exec` gives us a private /sys without the cgroup2 mount the tracer needs: the daemon
		 * keeps this network namespace but goes back to our parent's mounts */
		if (d->host_mounts) {
			int ns = open(mnt, O_RDONLY | O_CLOEXEC);
			if (ns < 0 || setns(ns, CLONE_NEWNS) != 0)
				_exit(126);
		}
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	/* BPF verification and attach take seconds (more under ASan): wait up to 60 s for PING */
	for (int i = 0; i < 600; i++) {
		int status;
		struct fr_ctl_msg m;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			fprintf(stderr, "flowringd exited during start-up (status 0x%x)\n", status);
			fr_e2e_daemon_dump_log(d);
			d->pid = 0;
			return -ECHILD;
		}
		int fd = fr_ctl_client_connect(d->sock, 500);
		if (fd >= 0) {
			int rc = fr_ctl_client_request(fd, FR_CTL_PING, NULL, &m, 2000);
			close(fd);
			if (rc == 0)
				return 0;
		}
		fr_sleep_ms(100);
	}
	fr_e2e_daemon_dump_log(d);
	return -ETIMEDOUT;
}

int fr_e2e_daemon_start(struct fr_e2e_daemon *d, const char *flowringd, const char *const *extra)
{
	return fr_e2e_daemon_start_opts(d, flowringd, extra, false);
}

int fr_e2e_daemon_start_opts(struct fr_e2e_daemon *d, const char *flowringd, const char *const *extra,
			     bool host_mounts)
{
	memset(d, 0, sizeof(*d));
	d->host_mounts = host_mounts;
	snprintf(d->dir, sizeof(d->dir), "/tmp/fr-e2e-XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	/* the regions on tmpfs, as in production: on a disk file system every first write to a page after
	 * writeback faults (page_mkwrite), which the daemon would pay per record */
	snprintf(d->shm, sizeof(d->shm), "/dev/shm/fr-e2e-XXXXXX");
	if (!mkdtemp(d->shm)) {
		snprintf(d->shm, sizeof(d->shm), "%s/shm", d->dir);
		if (mkdir(d->shm, 0755) != 0)
			return -errno;
	}
	snprintf(d->instance, sizeof(d->instance), "e2e%d", (int)getpid());
	snprintf(d->sock, sizeof(d->sock), "%s/ctl.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	return fr_e2e_spawn(d, flowringd, extra);
}

int fr_e2e_daemon_restart(struct fr_e2e_daemon *d, const char *flowringd, const char *const *extra)
{
	return fr_e2e_spawn(d, flowringd, extra);
}

void fr_e2e_daemon_dump_log(const struct fr_e2e_daemon *d)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(d->log, "r");

	if (!f)
		return;
	fprintf(stderr, "---- %s ----\n", d->log);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "---- end of %s ----\n", d->log);
	fclose(f);
}

int fr_e2e_run(const char *const *argv, char *out, size_t cap, int timeout_s)
{
	int p[2], status = 0;
	size_t len = 0;
	pid_t pid;

	if (pipe(p) != 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		alarm((unsigned)timeout_s);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], out + len, cap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == cap - 1) {
			char sink[256];
			while (read(p[0], sink, sizeof(sink)) > 0)
				;
			break;
		}
	}
	out[len] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status))
		return -EINTR;
	return WEXITSTATUS(status);
}

static int fr_e2e_leftovers(const char *dir)
{
	struct dirent *de;
	int found = 0;
	DIR *p = opendir(dir);

	if (!p)
		return -errno;
	while ((de = readdir(p))) {
		if (de->d_name[0] == '.')
			continue;
		fprintf(stderr, "left behind after SIGTERM: %s/%s\n", dir, de->d_name);
		found++;
	}
	closedir(p);
	return found;
}

int fr_e2e_daemon_stop(struct fr_e2e_daemon *d)
{
	int status = 0, rc = 0;
	pid_t w = 0;

	if (d->pid <= 0)
		return -ECHILD;
	kill(d->pid, SIGTERM);
	for (int i = 0; i < 200 && w != d->pid; i++) {
		w = waitpid(d->pid, &status, WNOHANG);
		if (w != d->pid)
			fr_sleep_ms(100);
	}
	if (w != d->pid) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &status, 0);
		fprintf(stderr, "flowringd did not stop within 20 s of SIGTERM\n");
		rc = -ETIMEDOUT;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "flowringd exit status 0x%x after SIGTERM\n", status);
		rc = -ECHILD;
	}
	d->pid = 0;
	if (rc == 0 && fr_e2e_leftovers(d->shm) != 0)
		rc = -EEXIST;
	char lock[160];
	snprintf(lock, sizeof(lock), "%s.lock", d->sock);
	for (int i = 0; rc == 0 && i < 2; i++) {
		const char *p = i ? lock : d->sock;
		if (access(p, F_OK) == 0 || errno != ENOENT) {
			fprintf(stderr, "left behind after SIGTERM: %s\n", p);
			rc = -EEXIST;
		}
	}
	if (rc)
		fr_e2e_daemon_dump_log(d);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", d->shm, d->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s and %s\n", d->shm, d->dir);
	return rc;
}

/* ---- traffic ---- */

static int fr_e2e_loopback(int af, struct sockaddr_storage *ss, socklen_t *len, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	}
	return 0;
}

static uint16_t fr_e2e_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int fr_e2e_xfer(int fd, uint64_t n, bool send_it)
{
	static char buf[65536];

	while (n) {
		size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		ssize_t r = send_it ? write(fd, buf, k) : read(fd, buf, k);
		if (r <= 0)
			return -1;
		n -= (uint64_t)r;
	}
	return 0;
}

/* A child that listens (or binds, for UDP), reports its port on pipe p, then runs serve(). */
static int fr_e2e_bound(int af, int type)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int s = socket(af, type, 0);

	if (s < 0)
		return -1;
	fr_e2e_loopback(af, &ss, &len, 0);
	if (bind(s, (struct sockaddr *)&ss, len) != 0 || (type == SOCK_STREAM && listen(s, 16) != 0)) {
		close(s);
		return -1;
	}
	return s;
}

static int fr_e2e_reap(pid_t a, pid_t b)
{
	int sa = 0, sb = 0;

	waitpid(a, &sa, 0);
	waitpid(b, &sb, 0);
	return WIFEXITED(sa) && WEXITSTATUS(sa) == 0 && WIFEXITED(sb) && WEXITSTATUS(sb) == 0 ? 0 : -ECHILD;
}

/* Fork a process that accepts one TCP connection on a loopback port and runs serve(conn, arg); the port it
 * listens on is in *port when this returns. */
static pid_t fr_e2e_fork_tcp_server(int af, uint16_t *port, int (*serve)(int fd, void *arg), void *arg)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int s = fr_e2e_bound(af, SOCK_STREAM);
		uint16_t lport = s >= 0 ? fr_e2e_local_port(s) : 0;
		if (write(p[1], &lport, sizeof(lport)) != sizeof(lport) || s < 0)
			_exit(1);
		int a = accept(s, NULL, NULL);
		int rc = a < 0 ? 1 : serve(a, arg);
		close(a);
		close(s);
		_exit(rc);
	}
	if (pid < 0 || read(p[0], port, sizeof(*port)) != sizeof(*port) || !*port)
		pid = -1;
	close(p[0]);
	close(p[1]);
	return pid;
}

/* Fork a process that connects to the loopback port and runs talk(sock, arg); its local port is in *cport. */
static pid_t fr_e2e_fork_tcp_client(int af, uint16_t port, uint16_t *cport, int (*talk)(int fd, void *arg), void *arg)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct sockaddr_storage ss;
		socklen_t len;
		int c = socket(af, SOCK_STREAM, 0);
		fr_e2e_loopback(af, &ss, &len, port);
		if (c < 0 || connect(c, (struct sockaddr *)&ss, len) != 0)
			_exit(1);
		uint16_t lport = fr_e2e_local_port(c);
		if (write(p[1], &lport, sizeof(lport)) != sizeof(lport))
			_exit(1);
		int rc = talk(c, arg);
		close(c);
		_exit(rc);
	}
	if (pid < 0 || read(p[0], cport, sizeof(*cport)) != sizeof(*cport))
		pid = -1;
	close(p[0]);
	close(p[1]);
	return pid;
}

static int fr_e2e_pair_serve(int fd, void *arg)
{
	const struct fr_e2e_flow *f = arg;
	char b;

	if (fr_e2e_xfer(fd, f->c2s_bytes, false) || fr_e2e_xfer(fd, f->s2c_bytes, true))
		return 1;
	/* the client closes first; then we close */
	while (read(fd, &b, 1) > 0)
		;
	return 0;
}

static int fr_e2e_pair_talk(int fd, void *arg)
{
	const struct fr_e2e_flow *f = arg;

	return fr_e2e_xfer(fd, f->c2s_bytes, true) || fr_e2e_xfer(fd, f->s2c_bytes, false);
}

int fr_e2e_tcp_pair(int af, uint64_t c2s, uint64_t s2c, struct fr_e2e_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->type = FR_CONN_TCP;
	f->family = af == AF_INET ? FR_CONN_V4 : FR_CONN_V6;
	f->c2s_bytes = c2s;
	f->s2c_bytes = s2c;
	f->spid = fr_e2e_fork_tcp_server(af, &f->sport, fr_e2e_pair_serve, f);
	if (f->spid < 0)
		return -EIO;
	f->cpid = fr_e2e_fork_tcp_client(af, f->sport, &f->cport, fr_e2e_pair_talk, f);
	if (f->cpid < 0) {
		kill(f->spid, SIGKILL);
		waitpid(f->spid, NULL, 0);
		return -EIO;
	}
	return fr_e2e_reap(f->spid, f->cpid);
}

int fr_e2e_udp_pair(int af, bool connected, unsigned n, unsigned c2s_each, unsigned s2c_each, struct fr_e2e_flow *f)
{
	int p[2];
	char buf[2048];

	if (c2s_each > sizeof(buf) || s2c_each > sizeof(buf))
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	memset(buf, 'u', sizeof(buf));
	f->type = FR_CONN_UDP;
	f->family = af == AF_INET ? FR_CONN_V4 : FR_CONN_V6;
	f->c2s_bytes = (uint64_t)n * c2s_each;
	f->s2c_bytes = (uint64_t)n * s2c_each;
	if (pipe(p) != 0)
		return -errno;
	f->spid = fork();
	if (f->spid == 0) {
		int s = fr_e2e_bound(af, SOCK_DGRAM);
		uint16_t port = s >= 0 ? fr_e2e_local_port(s) : 0;
		if (write(p[1], &port, sizeof(port)) != sizeof(port) || s < 0)
			_exit(1);
		for (unsigned i = 0; i < n; i++) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			if (recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) != (ssize_t)c2s_each ||
			    sendto(s, buf, s2c_each, 0, (struct sockaddr *)&from, fl) != (ssize_t)s2c_each)
				_exit(1);
		}
		close(s);
		_exit(0);
	}
	if (read(p[0], &f->sport, sizeof(f->sport)) != sizeof(f->sport) || !f->sport)
		return -EIO;
	f->cpid = fork();
	if (f->cpid == 0) {
		struct sockaddr_storage ss;
		socklen_t len;
		int c = socket(af, SOCK_DGRAM, 0);
		fr_e2e_loopback(af, &ss, &len, f->sport);
		if (c < 0 || (connected && connect(c, (struct sockaddr *)&ss, len) != 0))
			_exit(1);
		for (unsigned i = 0; i < n; i++) {
			ssize_t w = connected ? send(c, buf, c2s_each, 0)
					      : sendto(c, buf, c2s_each, 0, (struct sockaddr *)&ss, len);
			if (w != (ssize_t)c2s_each || recv(c, buf, sizeof(buf), 0) != (ssize_t)s2c_each)
				_exit(1);
			if (i == 0) {
				uint16_t cport = fr_e2e_local_port(c);
				if (write(p[1], &cport, sizeof(cport)) != sizeof(cport))
					_exit(1);
			}
		}
		close(c);
		_exit(0);
	}
	if (n == 0 || read(p[0], &f->cport, sizeof(f->cport)) != sizeof(f->cport))
		return -EIO;
	close(p[0]);
	close(p[1]);
	return fr_e2e_reap(f->spid, f->cpid);
}

bool fr_e2e_flow_matches(const struct fr_e2e_flow *f, const struct fr_conn *c)
{
	if (c->type != f->type || c->family != f->family)
		return false;
	return (c->sport == f->cport && c->dport == f->sport) || (c->sport == f->sport && c->dport == f->cport);
}

static int fr_e2e_long_serve(int fd, void *arg)
{
	int ack = *(int *)arg;
	char buf[65536];
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		uint32_t got = (uint32_t)r;
		if (write(ack, &got, sizeof(got)) != sizeof(got))
			return 1;
	}
	return 0;
}

static int fr_e2e_long_talk(int fd, void *arg)
{
	int ctl = *(int *)arg;
	uint32_t n;

	while (read(ctl, &n, sizeof(n)) == sizeof(n) && n)
		if (fr_e2e_xfer(fd, n, true))
			return 1;
	return 0;
}

int fr_e2e_long_open(struct fr_e2e_long *l)
{
	int ctl[2], ack[2];

	memset(l, 0, sizeof(*l));
	if (pipe(ctl) || pipe(ack))
		return -errno;
	l->spid = fr_e2e_fork_tcp_server(AF_INET, &l->sport, fr_e2e_long_serve, &ack[1]);
	if (l->spid < 0)
		return -EIO;
	l->cpid = fr_e2e_fork_tcp_client(AF_INET, l->sport, &l->cport, fr_e2e_long_talk, &ctl[0]);
	if (l->cpid < 0)
		return -EIO;
	close(ctl[0]);
	close(ack[1]);
	l->ctl = ctl[1];
	l->ack = ack[0];
	return 0;
}

int fr_e2e_long_send(struct fr_e2e_long *l, uint32_t n)
{
	uint32_t got, total = 0;

	if (write(l->ctl, &n, sizeof(n)) != sizeof(n))
		return -EIO;
	while (total < n) {
		if (read(l->ack, &got, sizeof(got)) != sizeof(got))
			return -EIO;
		total += got;
	}
	return total == n ? 0 : -EIO;
}

void fr_e2e_long_close(struct fr_e2e_long *l)
{
	uint32_t zero = 0;

	if (write(l->ctl, &zero, sizeof(zero)) != sizeof(zero))
		kill(l->cpid, SIGKILL);
	close(l->ctl);
	close(l->ack);
	fr_e2e_reap(l->cpid, l->spid);
}

int fr_e2e_serve_forever(const char *ip, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0) {
		fprintf(stderr, "serve %s:%u: %s\n", ip, port, strerror(errno));
		return 1;
	}
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c >= 0)
			close(c);
	}
}

int fr_e2e_telemetry(const struct fr_events_reader *r, const char *name, uint64_t *out)
{
	char n[FR_TELEMETRY_NAME_LEN];

	for (uint32_t i = 0; i < fr_events_telemetry_count(r); i++)
		if (fr_events_telemetry(r, i, n, out) == FR_OK && strcmp(n, name) == 0)
			return 0;
	return -ENOENT;
}

uint32_t fr_e2e_self_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) == 0 ? (uint32_t)st.st_ino : 0;
}
