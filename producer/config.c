/* config.c - see config.h. One setter (fr_config_set) serves both the file and the command line, so a
 * key and its flag can never disagree on syntax or limits. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FR_VERSION_STRING
#define FR_VERSION_STRING "0.1.0"
#endif

enum fr_opt {
	FR_OPT_CONFIG = 'c',
	FR_OPT_HELP = 'h',
	FR_OPT_VERSION = 'V',
	FR_OPT_INSTANCE = 'i',
	FR_OPT_FIRST_LONG = 256,
	FR_OPT_SHM_DIR = FR_OPT_FIRST_LONG,
	FR_OPT_CONTROL,
	FR_OPT_GROUP,
	FR_OPT_PUBLISH_INTERVAL,
	FR_OPT_MAX_CLOSED,
	FR_OPT_MAX_TRACKED,
	FR_OPT_MAX_CLIENTS,
	FR_OPT_CLIENT_EXPIRY,
	FR_OPT_UDP_IDLE,
	FR_OPT_EXCLUDE_SRC,
	FR_OPT_EXCLUDE_DST,
	FR_OPT_NO_CONNTRACK,
	FR_OPT_NO_UDP,
	FR_OPT_LOG_LEVEL,
	FR_OPT_RINGBUF_SIZE,
	FR_OPT_TCP_MAP_ENTRIES,
	FR_OPT_UDP_MAP_ENTRIES,
	FR_OPT_END,
};

static const struct option fr_config_longopts[] = {
	{"config", required_argument, NULL, FR_OPT_CONFIG},
	{"help", no_argument, NULL, FR_OPT_HELP},
	{"version", no_argument, NULL, FR_OPT_VERSION},
	{"instance", required_argument, NULL, FR_OPT_INSTANCE},
	{"shm-dir", required_argument, NULL, FR_OPT_SHM_DIR},
	{"control", required_argument, NULL, FR_OPT_CONTROL},
	{"group", required_argument, NULL, FR_OPT_GROUP},
	{"publish-interval", required_argument, NULL, FR_OPT_PUBLISH_INTERVAL},
	{"max-closed", required_argument, NULL, FR_OPT_MAX_CLOSED},
	{"max-tracked", required_argument, NULL, FR_OPT_MAX_TRACKED},
	{"max-clients", required_argument, NULL, FR_OPT_MAX_CLIENTS},
	{"client-expiry", required_argument, NULL, FR_OPT_CLIENT_EXPIRY},
	{"udp-idle-timeout", required_argument, NULL, FR_OPT_UDP_IDLE},
	{"exclude-src", required_argument, NULL, FR_OPT_EXCLUDE_SRC},
	{"exclude-dst", required_argument, NULL, FR_OPT_EXCLUDE_DST},
	{"no-conntrack", no_argument, NULL, FR_OPT_NO_CONNTRACK},
	{"no-udp", no_argument, NULL, FR_OPT_NO_UDP},
	{"log-level", required_argument, NULL, FR_OPT_LOG_LEVEL},
	{"ringbuf-size", required_argument, NULL, FR_OPT_RINGBUF_SIZE},
	{"tcp-map-entries", required_argument, NULL, FR_OPT_TCP_MAP_ENTRIES},
	{"udp-map-entries", required_argument, NULL, FR_OPT_UDP_MAP_ENTRIES},
	{NULL, 0, NULL, 0},
};

static const char fr_config_usage[] =
	"Usage: flowringd [OPTION]...\n"
	"Trace every TCP/UDP connection and publish them into shared-memory rings.\n\n"
	"  -c, --config PATH           read `key = value` settings from PATH (flags override it)\n"
	"  -i, --instance NAME         instance name (default: default)\n"
	"      --shm-dir DIR           where regions are created (default: /dev/shm)\n"
	"      --control PATH          control socket (default: /run/flowring/<instance>.sock)\n"
	"      --group NAME|GID        group owning regions and socket, allowed to register\n"
	"      --publish-interval DUR  publish snapshots every DUR (0 = only on request; bare = ms)\n"
	"      --max-closed N          closed records buffered per client (default 10000)\n"
	"      --max-tracked N         keys remembered per client (default 65536)\n"
	"      --max-clients N         registered clients (default 64)\n"
	"      --client-expiry DUR     drop clients that did not read for DUR (default 2m; bare = s)\n"
	"      --udp-idle-timeout DUR  close idle UDP flows after DUR (default 30s; bare = s)\n"
	"      --exclude-src SPEC      exclude by source (repeatable; see docs/OPERATIONS.md)\n"
	"      --exclude-dst SPEC      exclude by destination (repeatable)\n"
	"      --no-conntrack          no NAT translation from conntrack\n"
	"      --no-udp                trace TCP only\n"
	"      --log-level LEVEL       error, warn, info (default) or debug\n"
	"      --ringbuf-size SIZE     BPF ring buffer size, power of two (default 16M)\n"
	"      --tcp-map-entries N     active TCP connections the kernel side tracks (default 65536)\n"
	"      --udp-map-entries N     active UDP flows the kernel side tracks (default 65536)\n"
	"  -h, --help                  print this help and exit\n"
	"  -V, --version               print the version and exit\n";

struct fr_src {
	const char *file; /* NULL: command line */
	unsigned line;
};

static int fr_config_fail(char *err, size_t errlen, const struct fr_src *src, const char *key, const char *fmt,
			  ...) __attribute__((format(printf, 5, 6)));

static int fr_config_fail(char *err, size_t errlen, const struct fr_src *src, const char *key, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err && errlen) {
		if (src && src->file)
			snprintf(err, errlen, "%s:%u: %s: %s", src->file, src->line, key, what);
		else
			snprintf(err, errlen, "--%s: %s", key, what);
	}
	return -EINVAL;
}

void fr_config_defaults(struct fr_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->instance, "default");
	strcpy(cfg->shm_dir, "/dev/shm");
	cfg->publish_interval_ms = 0;
	cfg->max_closed = 10000;
	cfg->max_tracked = 65536;
	cfg->max_clients = 64;
	cfg->client_expiry_ms = 2 * 60 * 1000;
	cfg->udp_idle_timeout_ms = 30 * 1000;
	cfg->log_level = FR_LOG_INFO;
	cfg->ringbuf_size = 16u << 20;
	cfg->tcp_map_entries = 65536;
	cfg->udp_map_entries = 65536;
}

static void fr_config_list_clear(struct fr_config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

void fr_config_free(struct fr_config *cfg)
{
	fr_config_list_clear(&cfg->exclude_src);
	fr_config_list_clear(&cfg->exclude_dst);
}

static int fr_config_list_add(struct fr_config_list *l, const char *s)
{
	char **items = realloc(l->items, (l->n + 1) * sizeof(*items));

	if (!items)
		return -ENOMEM;
	l->items = items;
	items[l->n] = strdup(s);
	if (!items[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

/* Parse an unsigned decimal prefix; *end points past it. No sign, at least one digit. */
static int fr_parse_u64_prefix(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	*end = p;
	return 0;
}

static int fr_mul_checked(uint64_t v, uint64_t m, uint64_t *out)
{
	if (m && v > UINT64_MAX / m)
		return -ERANGE;
	*out = v * m;
	return 0;
}

int fr_config_parse_duration_ms(const char *s, uint64_t bare_unit_ms, uint64_t *out_ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	const char *end;
	uint64_t v;
	int rc = fr_parse_u64_prefix(s, &v, &end);

	if (rc)
		return rc;
	if (*end == '\0')
		return fr_mul_checked(v, bare_unit_ms, out_ms);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].suffix) == 0)
			return fr_mul_checked(v, units[i].ms, out_ms);
	return -EINVAL;
}

int fr_config_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {{"", 0}, {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}};
	const char *end;
	uint64_t v;
	int rc = fr_parse_u64_prefix(s, &v, &end);

	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].suffix) == 0)
			return fr_mul_checked(v, (uint64_t)1 << units[i].shift, out);
	return -EINVAL;
}

int fr_config_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	const char *end;
	uint64_t v;
	int rc = fr_parse_u64_prefix(s, &v, &end);

	if (rc)
		return rc;
	if (*end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

int fr_config_check_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > FR_CONFIG_INSTANCE_MAX || s[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == '/')
			return -EINVAL;
	return 0;
}

static int fr_parse_group(const char *s, gid_t *out)
{
	uint32_t gid;
	struct group gr, *res = NULL;
	char buf[4096];

	if (fr_config_parse_u32(s, 0, UINT32_MAX - 1, &gid) == 0) {
		*out = (gid_t)gid;
		return 0;
	}
	if (getgrnam_r(s, &gr, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	*out = res->gr_gid;
	return 0;
}

static int fr_copy_str(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, s, n + 1);
	return 0;
}

/* Apply one key (opt id) with its value. from_cmdline says which exclude lists it may touch. */
static int fr_config_set(struct fr_config *cfg, int opt, const char *key, const char *val, const struct fr_src *src,
			 char *err, size_t errlen)
{
	uint32_t u32;
	uint64_t u64;
	int rc = 0;
	bool cmdline = !src || !src->file;

	switch (opt) {
	case FR_OPT_INSTANCE:
		if (fr_config_check_name(val))
			return fr_config_fail(err, errlen, src, key,
					      "'%s' is not a valid instance name (1-%u printable characters, no '/', "
					      "not starting with '.')",
					      val, FR_CONFIG_INSTANCE_MAX);
		strcpy(cfg->instance, val);
		return 0;
	case FR_OPT_SHM_DIR:
		if (val[0] != '/' || fr_copy_str(cfg->shm_dir, sizeof(cfg->shm_dir), val))
			return fr_config_fail(err, errlen, src, key, "'%s' must be an absolute path under %u bytes", val,
					      FR_CONFIG_PATH_MAX);
		return 0;
	case FR_OPT_CONTROL:
		if (val[0] != '/' || fr_copy_str(cfg->control_path, sizeof(cfg->control_path), val))
			return fr_config_fail(err, errlen, src, key, "'%s' must be an absolute path under %u bytes", val,
					      FR_CONFIG_SOCK_PATH_MAX);
		return 0;
	case FR_OPT_GROUP:
		if (fr_parse_group(val, &cfg->group))
			return fr_config_fail(err, errlen, src, key, "'%s' is neither a group name nor a gid", val);
		cfg->group_set = true;
		return 0;
	case FR_OPT_PUBLISH_INTERVAL:
		rc = fr_config_parse_duration_ms(val, 1, &cfg->publish_interval_ms);
		break;
	case FR_OPT_CLIENT_EXPIRY:
		rc = fr_config_parse_duration_ms(val, 1000, &u64);
		if (rc == 0 && u64 == 0)
			return fr_config_fail(err, errlen, src, key, "'%s' must be more than 0", val);
		if (rc == 0)
			cfg->client_expiry_ms = u64;
		break;
	case FR_OPT_UDP_IDLE:
		rc = fr_config_parse_duration_ms(val, 1000, &u64);
		if (rc == 0 && u64 < 1000)
			return fr_config_fail(err, errlen, src, key, "'%s' must be at least 1s", val);
		if (rc == 0)
			cfg->udp_idle_timeout_ms = u64;
		break;
	case FR_OPT_MAX_CLOSED:
	case FR_OPT_MAX_TRACKED:
	case FR_OPT_MAX_CLIENTS: {
		uint32_t max = opt == FR_OPT_MAX_CLIENTS ? 4096 : 1u << 24;
		rc = fr_config_parse_u32(val, 1, max, &u32);
		if (rc == -ERANGE)
			return fr_config_fail(err, errlen, src, key, "'%s' is out of range 1..%u", val, max);
		if (rc == 0)
			*(opt == FR_OPT_MAX_CLOSED    ? &cfg->max_closed
			  : opt == FR_OPT_MAX_TRACKED ? &cfg->max_tracked
						      : &cfg->max_clients) = u32;
		break;
	}
	case FR_OPT_RINGBUF_SIZE:
		rc = fr_config_parse_size(val, &u64);
		if (rc == 0 && (u64 < 4096 || u64 > (1ull << 30) || (u64 & (u64 - 1))))
			return fr_config_fail(err, errlen, src, key, "'%s' must be a power of two from 4K to 1G", val);
		if (rc == 0)
			cfg->ringbuf_size = u64;
		break;
	case FR_OPT_TCP_MAP_ENTRIES:
	case FR_OPT_UDP_MAP_ENTRIES:
		/* a BPF hash map is sized once at load: beyond it new connections are counted in bpf_*_map_full,
		 * and a map far larger than its use makes every batch read slower (docs/benchmarks/scale.md) */
		rc = fr_config_parse_u32(val, 1024, 1u << 24, &u32);
		if (rc == -ERANGE)
			return fr_config_fail(err, errlen, src, key, "'%s' is out of range 1024..%u", val, 1u << 24);
		if (rc == 0)
			*(opt == FR_OPT_TCP_MAP_ENTRIES ? &cfg->tcp_map_entries : &cfg->udp_map_entries) = u32;
		break;
	case FR_OPT_EXCLUDE_SRC:
	case FR_OPT_EXCLUDE_DST: {
		struct fr_config_list *l = opt == FR_OPT_EXCLUDE_SRC ? &cfg->exclude_src : &cfg->exclude_dst;
		if (!*val)
			return fr_config_fail(err, errlen, src, key, "empty filter");
		if (cmdline && !l->from_cmdline) {
			/* the command line replaces the file's list, it does not extend it */
			fr_config_list_clear(l);
			l->from_cmdline = true;
		} else if (!cmdline && l->from_cmdline) {
			return 0;
		}
		if (fr_config_list_add(l, val)) {
			if (err && errlen)
				snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	case FR_OPT_NO_CONNTRACK:
	case FR_OPT_NO_UDP: {
		bool v = true;
		if (val) {
			if (!strcmp(val, "true") || !strcmp(val, "yes") || !strcmp(val, "1"))
				v = true;
			else if (!strcmp(val, "false") || !strcmp(val, "no") || !strcmp(val, "0"))
				v = false;
			else
				return fr_config_fail(err, errlen, src, key, "'%s' is not a boolean (true/false)", val);
		}
		*(opt == FR_OPT_NO_CONNTRACK ? &cfg->no_conntrack : &cfg->no_udp) = v;
		return 0;
	}
	case FR_OPT_LOG_LEVEL:
		if (fr_log_parse_level(val, &cfg->log_level))
			return fr_config_fail(err, errlen, src, key, "'%s' is not one of error, warn, info, debug", val);
		return 0;
	default:
		return fr_config_fail(err, errlen, src, key, "not allowed here");
	}
	if (rc == -ERANGE)
		return fr_config_fail(err, errlen, src, key, "'%s' is too large", val);
	if (rc)
		return fr_config_fail(err, errlen, src, key, "'%s' is not a valid value", val);
	return 0;
}

static int fr_config_key_opt(const char *key)
{
	for (const struct option *o = fr_config_longopts; o->name; o++)
		if (strcmp(o->name, key) == 0)
			return o->val;
	return -1;
}

static char *fr_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Read the file into cfg. Duplicate scalar keys are an error (a typo'd second line must not win
 * silently); exclude-src/exclude-dst accumulate. */
static int fr_config_load_file(struct fr_config *cfg, const char *path, char *err, size_t errlen)
{
	unsigned first_line[FR_OPT_END - FR_OPT_FIRST_LONG + 1] = {0};
	struct fr_src src = {.file = path, .line = 0};
	char line[1024];
	int rc = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "--config: cannot open '%s': %s", path, strerror(-rc));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p, *eq, *key, *val;
		int opt;

		src.line++;
		if (!strchr(line, '\n') && !feof(f)) {
			rc = fr_config_fail(err, errlen, &src, "line", "longer than %zu bytes", sizeof(line) - 2);
			goto cleanup;
		}
		p = strchr(line, '#');
		if (p)
			*p = '\0';
		p = fr_trim(line);
		if (!*p)
			continue;
		eq = strchr(p, '=');
		if (!eq) {
			rc = fr_config_fail(err, errlen, &src, p, "expected `key = value`");
			goto cleanup;
		}
		*eq = '\0';
		key = fr_trim(p);
		val = fr_trim(eq + 1);
		opt = fr_config_key_opt(key);
		if (opt < 0 || opt == FR_OPT_CONFIG || opt == FR_OPT_HELP || opt == FR_OPT_VERSION) {
			rc = fr_config_fail(err, errlen, &src, key, "unknown key");
			goto cleanup;
		}
		if (!*val) {
			rc = fr_config_fail(err, errlen, &src, key, "missing value");
			goto cleanup;
		}
		if (opt != FR_OPT_EXCLUDE_SRC && opt != FR_OPT_EXCLUDE_DST) {
			/* slot 0 is --instance (a short option), then the long-only options in order */
			unsigned slot = opt == FR_OPT_INSTANCE ? 0 : (unsigned)(opt - FR_OPT_FIRST_LONG) + 1;
			if (first_line[slot]) {
				rc = fr_config_fail(err, errlen, &src, key, "duplicate key (first set at line %u)",
						    first_line[slot]);
				goto cleanup;
			}
			first_line[slot] = src.line;
		}
		rc = fr_config_set(cfg, opt, key, val, &src, err, errlen);
		if (rc)
			goto cleanup;
	}
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "--config: error reading '%s'", path);
	}
cleanup:
	fclose(f);
	return rc;
}

static const char fr_config_shortopts[] = "+:c:i:hV";

/* Find --config/-c before anything else: the file is the base the other flags override. */
static int fr_config_find_file(struct fr_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	int opt;

	optind = 0; /* glibc: 0 fully re-initialises getopt's state, so we can be called twice */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, fr_config_shortopts, fr_config_longopts, NULL)) != -1) {
		if (opt == FR_OPT_CONFIG) {
			if (fr_copy_str(cfg->config_path, sizeof(cfg->config_path), optarg))
				return fr_config_fail(err, errlen, NULL, "config", "'%s' is empty or too long", optarg);
		}
	}
	return 0;
}

int fr_config_parse(struct fr_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	int opt, rc;

	fr_config_defaults(cfg);
	if (err && errlen)
		err[0] = '\0';
	rc = fr_config_find_file(cfg, argc, argv, err, errlen);
	if (rc)
		goto cleanup;
	if (cfg->config_path[0]) {
		rc = fr_config_load_file(cfg, cfg->config_path, err, errlen);
		if (rc)
			goto cleanup;
	}
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, fr_config_shortopts, fr_config_longopts, NULL)) != -1) {
		const char *name = argv[optind - 1];
		if (opt == '?') {
			rc = fr_config_fail(err, errlen, NULL, name[0] == '-' && name[1] == '-' ? name + 2 : name,
					    "unknown option (try --help)");
			goto cleanup;
		}
		if (opt == ':') {
			rc = fr_config_fail(err, errlen, NULL, name[0] == '-' && name[1] == '-' ? name + 2 : name,
					    "missing value");
			goto cleanup;
		}
		if (opt == FR_OPT_HELP) {
			fputs(fr_config_usage, stdout);
			rc = FR_CONFIG_EXIT_OK;
			goto cleanup;
		}
		if (opt == FR_OPT_VERSION) {
			printf("flowringd %s\n", FR_VERSION_STRING);
			rc = FR_CONFIG_EXIT_OK;
			goto cleanup;
		}
		if (opt == FR_OPT_CONFIG)
			continue;
		const char *key = "?";
		for (const struct option *o = fr_config_longopts; o->name; o++)
			if (o->val == opt)
				key = o->name;
		rc = fr_config_set(cfg, opt, key, optarg, NULL, err, errlen);
		if (rc)
			goto cleanup;
	}
	if (optind < argc) {
		rc = fr_config_fail(err, errlen, NULL, "", "unexpected argument '%s'", argv[optind]);
		goto cleanup;
	}
	if (!cfg->control_path[0] &&
	    (size_t)snprintf(cfg->control_path, sizeof(cfg->control_path), "%s/%s.sock", FR_CONFIG_RUN_DIR,
			     cfg->instance) >= sizeof(cfg->control_path)) {
		rc = fr_config_fail(err, errlen, NULL, "control", "default socket path too long");
		goto cleanup;
	}
cleanup:
	if (rc)
		fr_config_free(cfg);
	return rc;
}

int fr_config_reload_filters(struct fr_config *cfg, char *err, size_t errlen)
{
	struct fr_config tmp;
	int rc;

	if (!cfg->config_path[0])
		return 0;
	fr_config_defaults(&tmp);
	rc = fr_config_load_file(&tmp, cfg->config_path, err, errlen);
	if (rc) {
		fr_config_free(&tmp);
		return rc;
	}
	if (!cfg->exclude_src.from_cmdline) {
		fr_config_list_clear(&cfg->exclude_src);
		cfg->exclude_src = tmp.exclude_src;
		tmp.exclude_src = (struct fr_config_list){0};
	}
	if (!cfg->exclude_dst.from_cmdline) {
		fr_config_list_clear(&cfg->exclude_dst);
		cfg->exclude_dst = tmp.exclude_dst;
		tmp.exclude_dst = (struct fr_config_list){0};
	}
	fr_config_free(&tmp);
	return 0;
}
