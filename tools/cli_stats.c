/* cli_stats.c - `flowring stats`: the producer's telemetry block, read straight from the events
 * region (no daemon round trip), as text, one JSON object, or Prometheus text exposition. */
#include <flowring/flowring.h> /* first: it selects _DEFAULT_SOURCE */

#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* HELP texts of the fixed counters, from the one list that defines them. */
static const struct {
	const char *name;
	const char *help;
} fr_cli_fixed_help[] = {
#define FR__CLI_HELP(id, name, help) {name, help},
	FR_TELEMETRY_FIXED(FR__CLI_HELP)
#undef FR__CLI_HELP
};

/* Families the daemon registers at run time ("<base>:<program>"). */
static const struct {
	const char *base;
	const char *help;
} fr_cli_dyn_help[] = {
	{"bpf_prog_run_cnt", "BPF program runs per program (kernel bpf_stats)"},
	{"bpf_prog_run_time_ns", "BPF program run time per program in ns (kernel bpf_stats)"},
};

static const char *fr_cli_help_for(const char *base)
{
	for (size_t i = 0; i < sizeof(fr_cli_fixed_help) / sizeof(fr_cli_fixed_help[0]); i++)
		if (strcmp(fr_cli_fixed_help[i].name, base) == 0)
			return fr_cli_fixed_help[i].help;
	for (size_t i = 0; i < sizeof(fr_cli_dyn_help) / sizeof(fr_cli_dyn_help[0]); i++)
		if (strcmp(fr_cli_dyn_help[i].base, base) == 0)
			return fr_cli_dyn_help[i].help;
	return NULL;
}

/* Split "base:label" (the label may be absent); base is sanitised to [a-zA-Z0-9_]. */
static void fr_cli_split_name(const char *name, char *base, size_t blen, const char **label)
{
	const char *colon = strchr(name, ':');
	size_t n = colon ? (size_t)(colon - name) : strlen(name), k;

	if (n >= blen)
		n = blen - 1;
	for (k = 0; k < n; k++) {
		char c = name[k];
		base[k] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ? c : '_';
	}
	base[k] = '\0';
	*label = colon ? colon + 1 : NULL;
}

static bool fr_cli_is_gauge(const char *base)
{
	size_t n = strlen(base), s = strlen("_current");
	return n >= s && strcmp(base + n - s, "_current") == 0;
}

/* Prometheus label values escape backslash, double quote and newline. */
static void fr_cli_prom_label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

void fr_cli_stats_prometheus(FILE *f, const struct fr_cli_stat *s, size_t n)
{
	char base[64], other[64];
	const char *label, *olabel;

	/* A family's samples must be contiguous: emit each family at its first entry, gathering its
	 * later entries (n <= FR_TELEMETRY_MAX, so the quadratic scan is cheap). */
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		fr_cli_split_name(s[i].name, base, sizeof(base), &label);
		for (size_t j = 0; j < i && !seen; j++) {
			fr_cli_split_name(s[j].name, other, sizeof(other), &olabel);
			seen = strcmp(base, other) == 0;
		}
		if (seen || base[0] == '\0')
			continue;
		const char *help = fr_cli_help_for(base);
		const char *key = strncmp(base, "bpf_prog_", 9) == 0 ? "prog" : "name";
		fprintf(f, "# HELP flowring_%s %s\n", base, help ? help : "flowring producer telemetry");
		fprintf(f, "# TYPE flowring_%s %s\n", base, fr_cli_is_gauge(base) ? "gauge" : "counter");
		for (size_t j = i; j < n; j++) {
			fr_cli_split_name(s[j].name, other, sizeof(other), &olabel);
			if (strcmp(base, other) != 0)
				continue;
			fprintf(f, "flowring_%s", base);
			if (olabel) {
				fprintf(f, "{%s=\"", key);
				fr_cli_prom_label_value(f, olabel);
				fputs("\"}", f);
			}
			fprintf(f, " %" PRIu64 "\n", s[j].value);
		}
	}
}

void fr_cli_stats_json(FILE *f, const struct fr_cli_stat *s, size_t n)
{
	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		fr_cli_json_string(f, s[i].name);
		fprintf(f, ":%" PRIu64, s[i].value);
	}
	fputs("}\n", f);
}

void fr_cli_stats_text(FILE *f, const struct fr_cli_stat *s, size_t n)
{
	int w = 0;

	for (size_t i = 0; i < n; i++)
		if ((int)strlen(s[i].name) > w)
			w = (int)strlen(s[i].name);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%-*s %" PRIu64 "\n", w, s[i].name, s[i].value);
}

static void fr_cli_stats_help(void)
{
	printf("Usage: flowring stats [--json | --prometheus] [global options]\n"
	       "Print flowringd's telemetry counters, read from the events region's telemetry block\n"
	       "(no request to the daemon). Counters are monotonic for the life of the producer; names\n"
	       "ending in _current are gauges.\n\n"
	       "  -j, --json           one JSON object {\"name\": value, ...}\n"
	       "  -p, --prometheus     Prometheus text exposition format (flowring_<name>, HELP/TYPE)\n"
	       "      --instance NAME  producer instance (default: default)\n"
	       "      --shm-dir DIR    shared-memory directory (default: /dev/shm)\n"
	       "      --control PATH   (accepted for symmetry; stats does not use the socket)\n"
	       "  -h, --help           this help\n");
}

int fr_cli_stats_main(struct fr_cli_global *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"prometheus", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		FR_CLI_GLOBAL_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	static struct fr_cli_stat stats[FR_TELEMETRY_MAX];
	struct fr_events_reader r;
	bool json = false, prom = false;
	size_t n = 0;
	int opt, st;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":jph", longopts, NULL)) != -1) {
		int gr = fr_cli_global_opt(g, opt, optarg);
		if (gr == FR_CLI_USAGE)
			return gr;
		if (gr == 1)
			continue;
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'p':
			prom = true;
			break;
		case 'h':
			fr_cli_stats_help();
			return FR_CLI_OK;
		default:
			return fr_cli_bad_option("stats", opt, argv);
		}
	}
	if (optind < argc)
		return fr_cli_usage_error("stats", "unexpected argument '%s'", argv[optind]);
	if (json && prom)
		return fr_cli_usage_error("stats", "--json and --prometheus are exclusive");

	if (fr_cli_events_open(g, "stats", &r, FR_FROM_LATEST) != FR_OK)
		return FR_CLI_FAIL;
	for (uint32_t i = 0; i < fr_events_telemetry_count(&r) && n < FR_TELEMETRY_MAX; i++) {
		char name[FR_TELEMETRY_NAME_LEN];
		uint64_t v;
		if (fr_events_telemetry(&r, i, name, &v) != FR_OK)
			continue;
		snprintf(stats[n].name, sizeof(stats[n].name), "%s", name);
		stats[n++].value = v;
	}
	/* old values are still worth printing, but the reader must know they no longer move; with
	 * nothing new to read (opened at the latest record), next() answers the liveness state */
	const struct fr_conn *unused;
	st = fr_events_next(&r, &unused);
	if (st == FR_PRODUCER_DEAD)
		fprintf(stderr, "flowring stats: the producer (pid %u) is not running: these are its last values\n",
			r.region.pid);
	else if (st == FR_NEW_GENERATION)
		fprintf(stderr, "flowring stats: this events region was retired: these are its last values\n");
	fr_events_close(&r);

	if (prom)
		fr_cli_stats_prometheus(stdout, stats, n);
	else if (json)
		fr_cli_stats_json(stdout, stats, n);
	else
		fr_cli_stats_text(stdout, stats, n);
	return fflush(stdout) == 0 ? FR_CLI_OK : FR_CLI_FAIL;
}
