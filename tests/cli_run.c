/* cli_run.c - run the real flowring binary against test_cli's fake producer and capture what it
 * prints (see cli_run.h). */
#define _GNU_SOURCE
#include "cli_run.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_fake.h"

extern char **environ;

struct run run;

void slurp(const char *path, char *buf, size_t cap, size_t *n)
{
	FILE *f = fopen(path, "r");
	size_t k = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[k] = '\0';
	if (n)
		*n = k;
	if (f)
		fclose(f);
}

pid_t spawn_cli(const char *const *args)
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

int wait_exit(pid_t pid)
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

void collect(pid_t pid)
{
	char path[256];
	int st = wait_exit(pid);

	run.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	snprintf(path, sizeof(path), "%s/out", tmpdir);
	slurp(path, run.out, sizeof(run.out), &run.nout);
	snprintf(path, sizeof(path), "%s/err", tmpdir);
	slurp(path, run.err, sizeof(run.err), NULL);
}

int cli(const char *a0, ...)
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

unsigned count_lines(const char *s)
{
	unsigned n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

unsigned count_str(const char *s, const char *needle)
{
	unsigned n = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

const char *nth_line(const char *s, unsigned k, char *buf, size_t len)
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

void wait_lines(unsigned n)
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

void wait_count(const char *needle, unsigned n)
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

void wait_output(const char *needle)
{
	wait_count(needle, 1);
}

void assert_has(const char *line, ...)
{
	va_list ap;
	va_start(ap, line);
	for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
		if (!strstr(line, w))
			fail_msg("'%s' not in: %s", w, line);
	va_end(ap);
}
