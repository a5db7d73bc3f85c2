/* churn_workload.c - the churn bench's workload: K client processes make N short TCP connections to K server
 * processes on 127.0.0.1, as fast as they can (see churn.h and bench_churn.c). */
#define _GNU_SOURCE 1 /* pipe2 */
#include <flowring/flowring.h> /* fr__now_ns */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "churn.h"

static ssize_t fr_churn_xfer(int fd, char *buf, size_t len, int wr)
{
	size_t done = 0;

	while (done < len) {
		ssize_t k = wr ? write(fd, buf + done, len - done) : read(fd, buf + done, len - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -1 : (ssize_t)done;
		done += (size_t)k;
	}
	return (ssize_t)done;
}

/* Server process: accept, read the 8-byte request, answer 8 bytes, close first (the TIME_WAIT stays on the
 * server's side, whose listening port differs per run, so the clients' ephemeral ports are not exhausted). */
static void fr_churn_server(int lfd)
{
	char buf[8];

	for (;;) {
		int a = accept(lfd, NULL, NULL);
		if (a < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			_exit(1);
		}
		if (fr_churn_xfer(a, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf))
			fr_churn_xfer(a, buf, sizeof(buf), 1);
		close(a);
	}
}

static void fr_churn_client(const struct sockaddr_in *sa, uint64_t n, int res_fd)
{
	uint64_t res[2] = {0, 0}; /* ok, failed */
	char buf[8] = "churn-rq";

	for (uint64_t i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = c >= 0 && connect(c, (const struct sockaddr *)sa, sizeof(*sa)) == 0 &&
			 fr_churn_xfer(c, buf, sizeof(buf), 1) == (ssize_t)sizeof(buf) &&
			 fr_churn_xfer(c, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf) &&
			 read(c, buf, 1) == 0; /* EOF: the server closed its end */
		res[ok ? 0 : 1]++;
		if (c >= 0)
			close(c);
	}
	_exit(write(res_fd, res, sizeof(res)) == (ssize_t)sizeof(res) ? 0 : 1);
}

/* Run the churn on a listener bound beforehand (its port identifies the churn's records). */
int fr_churn_run(int lfd, uint64_t n, unsigned workers, struct fr_churn_result *r)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	pid_t srv[FR_CHURN_MAXW], cli[FR_CHURN_MAXW];
	int p[2], rc = 0;
	unsigned ns = 0, nc = 0;

	if (getsockname(lfd, (struct sockaddr *)&sa, &len) != 0 || pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	for (; ns < workers; ns++) {
		srv[ns] = fork();
		if (srv[ns] == 0)
			fr_churn_server(lfd);
		if (srv[ns] < 0) {
			rc = -errno;
			goto cleanup;
		}
	}
	uint64_t t0 = fr__now_ns();
	for (; nc < workers; nc++) {
		cli[nc] = fork();
		if (cli[nc] == 0)
			fr_churn_client(&sa, n / workers + (nc < n % workers), p[1]);
		if (cli[nc] < 0) {
			rc = -errno;
			goto cleanup;
		}
	}
	for (unsigned i = 0; i < nc; i++) {
		uint64_t res[2];
		int st;

		waitpid(cli[i], &st, 0);
		if (fr_churn_xfer(p[0], (char *)res, sizeof(res), 0) == (ssize_t)sizeof(res)) {
			r->conns += res[0];
			r->conn_fail += res[1];
		}
	}
	nc = 0;
	r->secs = (double)(fr__now_ns() - t0) / 1e9;
cleanup:
	for (unsigned i = 0; i < nc; i++)
		waitpid(cli[i], NULL, 0);
	for (unsigned i = 0; i < ns; i++) {
		kill(srv[i], SIGKILL);
		waitpid(srv[i], NULL, 0);
	}
	close(p[0]);
	close(p[1]);
	return rc;
}

int fr_churn_listen(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		return -errno;
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l, 4096) != 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) != 0) {
		int e = -errno;
		close(l);
		return e;
	}
	*port = ntohs(sa.sin_port);
	return l;
}
