/* cli_common.c - global options, usage errors and the control-socket helpers of the flowring CLI. */
#include <flowring/flowring.h> /* first: it selects _DEFAULT_SOURCE */

#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control_client.h"

void fr_cli_global_defaults(struct fr_cli_global *g)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->instance, sizeof(g->instance), "default");
	snprintf(g->shm_dir, sizeof(g->shm_dir), "%s", FLOWRING_DEFAULT_SHM_DIR);
}

int fr_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "flowring%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'flowring%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
	return FR_CLI_USAGE;
}

int fr_cli_global_opt(struct fr_cli_global *g, int opt, const char *arg)
{
	switch (opt) {
	case FR_CLI_OPT_INSTANCE:
		if (fr_name_valid(arg) != 0)
			return fr_cli_usage_error(NULL, "invalid --instance '%s': 1-%u printable characters, no '/', "
							"no space, not starting with '.'", arg, FR_NAME_MAX - 1);
		snprintf(g->instance, sizeof(g->instance), "%s", arg);
		return 1;
	case FR_CLI_OPT_SHM_DIR:
		if (arg[0] == '\0' || strlen(arg) >= sizeof(g->shm_dir) - 64)
			return fr_cli_usage_error(NULL, "invalid --shm-dir '%s'", arg);
		snprintf(g->shm_dir, sizeof(g->shm_dir), "%s", arg);
		return 1;
	case FR_CLI_OPT_CONTROL:
		if (arg[0] == '\0' || strlen(arg) >= sizeof(g->control))
			return fr_cli_usage_error(NULL, "invalid --control '%s': a socket path shorter than %zu bytes",
						  arg, sizeof(g->control));
		snprintf(g->control, sizeof(g->control), "%s", arg);
		return 1;
	default:
		return 0;
	}
}

const char *fr_cli_control_path(const struct fr_cli_global *g, char *buf, size_t len)
{
	if (g->control[0])
		snprintf(buf, len, "%s", g->control);
	else
		snprintf(buf, len, "%s/%s.sock", FR_CONFIG_RUN_DIR, g->instance);
	return buf;
}

int fr_cli_bad_option(const char *cmd, int opt, char **argv)
{
	/* getopt_long with opterr = 0 and a ':' optstring: optind is past the offending word */
	const char *word = optind > 0 ? argv[optind - 1] : "?";
	char shortopt[3] = {'-', (char)optopt, '\0'};

	if (optopt > 0 && optopt < 0x100 && strncmp(word, "--", 2) != 0)
		word = shortopt;
	if (opt == ':')
		return fr_cli_usage_error(cmd, "option '%s' needs a value", word);
	return fr_cli_usage_error(cmd, "unknown option '%s'", word);
}

int fr_cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10u)
			return -ERANGE;
		v = v * 10u + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void fr_cli_hint_start(const struct fr_cli_global *g)
{
	bool other_shm = strcmp(g->shm_dir, FLOWRING_DEFAULT_SHM_DIR) != 0;

	fprintf(stderr, "flowring: start it with 'sudo systemctl start flowringd' or 'sudo flowringd --instance %s%s%s%s%s'\n",
		g->instance, g->control[0] ? " --control " : "", g->control, other_shm ? " --shm-dir " : "",
		other_shm ? g->shm_dir : "");
}

int fr_cli_ctl_connect(const struct fr_cli_global *g)
{
	char path[128];
	int fd;

	fr_cli_control_path(g, path, sizeof(path));
	fd = fr_ctl_client_connect(path, FR_CLI_CTL_TIMEOUT_MS);
	if (fd >= 0)
		return fd;
	switch (fd) {
	case -ENOENT:
		fprintf(stderr, "flowring: no control socket at %s: flowringd is not running\n", path);
		fr_cli_hint_start(g);
		break;
	case -ECONNREFUSED:
		fprintf(stderr, "flowring: nobody answers on %s (stale socket): flowringd is not running\n", path);
		fr_cli_hint_start(g);
		break;
	case -EACCES:
	case -EPERM:
		fprintf(stderr, "flowring: permission denied on %s: run as root or as a member of flowringd's "
				"--group\n", path);
		break;
	default:
		fprintf(stderr, "flowring: cannot connect to %s: %s\n", path, strerror(-fd));
		break;
	}
	return fd;
}

void fr_cli_ctl_report(const struct fr_cli_global *g, int rc, const struct fr_ctl_msg *reply, uint8_t type,
		       const char *client_id)
{
	char path[128];

	fr_cli_control_path(g, path, sizeof(path));
	if (rc == -EREMOTEIO && reply) {
		const struct fr_ctl_error *e = &reply->u.err;
		switch (e->code) {
		case FR_CTL_E_PERM:
			fprintf(stderr, "flowring: flowringd refused the request (permission): run as root or as "
					"a member of its --group\n");
			return;
		case FR_CTL_E_NO_CLIENT:
			fprintf(stderr, "flowring: no client '%s' is registered with flowringd (%s)\n",
				client_id ? client_id : "", path);
			return;
		case FR_CTL_E_UNSUPPORTED:
			fprintf(stderr, "flowring: this flowringd does not support request %u\n", type);
			return;
		default:
			fprintf(stderr, "flowring: flowringd answered: %s%s%s%s%s\n", fr_ctl_strerror(e->code),
				e->msg[0] ? ": " : "", e->msg, e->err ? ": " : "", e->err ? strerror(e->err) : "");
			return;
		}
	}
	if (rc == -ECONNRESET)
		fprintf(stderr, "flowring: flowringd closed the connection on %s\n", path);
	else if (rc == -ETIMEDOUT)
		fprintf(stderr, "flowring: flowringd did not answer on %s within %d ms\n", path, FR_CLI_CTL_TIMEOUT_MS);
	else
		fprintf(stderr, "flowring: control request to %s failed: %s\n", path, strerror(-rc));
}

int fr_cli_ctl_request(const struct fr_cli_global *g, int fd, uint8_t type, const char *client_id,
		       struct fr_ctl_msg *reply, int *code, bool quiet_no_client)
{
	int rc = fr_ctl_client_request(fd, type, client_id, reply, FR_CLI_CTL_TIMEOUT_MS);

	if (code)
		*code = rc == -EREMOTEIO ? reply->u.err.code : 0;
	if (rc == 0)
		return 0;
	if (!(quiet_no_client && rc == -EREMOTEIO && reply->u.err.code == FR_CTL_E_NO_CLIENT))
		fr_cli_ctl_report(g, rc, reply, type, client_id);
	return rc;
}

struct fr_cli_list_ctx {
	int (*fn)(void *ctx, const struct fr_ctl_msg *m);
	void *ctx;
	struct fr_ctl_msg err; /* the error reply, if the chain ended with one */
};

static int fr_cli_list_cb(void *ctx, const struct fr_ctl_msg *m)
{
	struct fr_cli_list_ctx *l = ctx;

	if (m->hdr.type == FR_CTL_ERROR) {
		l->err = *m;
		return 0;
	}
	return l->fn(l->ctx, m);
}

int fr_cli_ctl_list(const struct fr_cli_global *g, int fd, uint8_t type, const char *client_id,
		    int (*fn)(void *ctx, const struct fr_ctl_msg *m), void *ctx)
{
	uint8_t req[FR_CTL_HDR_SIZE + 1 + FR_CTL_ID_MAX];
	struct fr_cli_list_ctx l = {.fn = fn, .ctx = ctx};
	int n = fr_ctl_encode_request(req, sizeof(req), type, (uint32_t)getpid(), client_id);
	int rc;

	if (n < 0) {
		fprintf(stderr, "flowring: cannot encode request: %s\n", strerror(-n));
		return n;
	}
	rc = fr_ctl_client_call(fd, req, (size_t)n, fr_cli_list_cb, &l, FR_CLI_CTL_TIMEOUT_MS);
	if (rc != 0)
		fr_cli_ctl_report(g, rc, &l.err, type, client_id);
	return rc;
}

int fr_cli_events_open(const struct fr_cli_global *g, const char *cmd, struct fr_events_reader *r, unsigned from)
{
	char path[FLOWRING_PATH_MAX];
	int st = fr_events_open(r, g->shm_dir, g->instance, from);

	if (st == FR_OK)
		return FR_OK;
	fr_region_path(path, sizeof(path), g->shm_dir, g->instance, NULL);
	if (st == FR_NOT_READY) {
		fprintf(stderr, "flowring %s: no events region at %s: flowringd is not running for instance '%s' (or it "
				"uses another --shm-dir)\n", cmd, path, g->instance);
		fr_cli_hint_start(g);
	} else {
		fprintf(stderr, "flowring %s: cannot read %s: %s\n", cmd, path, fr_status_str(st));
	}
	return st;
}
