/* follow_events.c - SDK example: follow a producer's events ring and print each closed connection.
 *
 *   follow_events [instance [shm_dir [max_records]]]     (defaults: "default", /dev/shm, forever)
 *
 * Shows the zero-copy path (next, use, check), loss reporting, blocking waits and following a
 * restarted producer. Exit status 0 once max_records were printed, 1 on a fatal status.
 */
#include <flowring/flowring.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

static void print_conn(const struct fr_conn *c)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int af = c->family == FR_CONN_V6 ? AF_INET6 : AF_INET;
	inet_ntop(af, c->saddr, src, sizeof(src));
	inet_ntop(af, c->daddr, dst, sizeof(dst));
	printf("pid %u %s %s:%u -> %s:%u sent %llu recv %llu retrans %u rtt %uus\n", c->pid,
	       c->type == FR_CONN_UDP ? "udp" : "tcp", src, c->sport, dst, c->dport,
	       (unsigned long long)c->monotonic_sent_bytes, (unsigned long long)c->monotonic_recv_bytes,
	       c->monotonic_retransmits, c->rtt_us);
}

int main(int argc, char **argv)
{
	const char *instance = argc > 1 ? argv[1] : "default";
	const char *shm_dir = argc > 2 ? argv[2] : NULL;
	unsigned long long max = argc > 3 ? strtoull(argv[3], NULL, 10) : 0, printed = 0;
	struct fr_events_reader r;
	int st;

	/* FR_FROM_OLDEST: also print what is already in the ring */
	while ((st = fr_events_open(&r, shm_dir, instance, FR_FROM_OLDEST)) == FR_NOT_READY)
		fr_sleep_ms(50);
	if (st != FR_OK) {
		unsigned maj, min;
		fr_region_version(&r.region, &maj, &min);
		fprintf(stderr, "open %s: %s (region ABI %u.%u, SDK ABI %u.%u)\n", instance, fr_status_str(st), maj,
			min, FR_ABI_MAJOR, FR_ABI_MINOR);
		return 1;
	}
	while (max == 0 || printed < max) {
		const struct fr_conn *c;
		struct fr_conn copy;
		st = fr_events_next(&r, &c);
		switch (st) {
		case FR_OK:
			copy = *c; /* zero-copy read of what we need, then check it was intact */
			if (fr_events_check(&r) == FR_OK) {
				print_conn(&copy);
				printed++;
			}
			break;
		case FR_LAPPED:
			fprintf(stderr, "lapped: %llu records lost\n", (unsigned long long)fr_events_lost(&r));
			break;
		case FR_AGAIN:
		case FR_PRODUCER_STALE:
			fr_events_wait(&r, 1000);
			break;
		case FR_NEW_GENERATION:
		case FR_PRODUCER_DEAD:
			fprintf(stderr, "%s: waiting for a new producer\n", fr_status_str(st));
			while ((st = fr_events_reopen(&r)) == FR_NOT_READY)
				fr_sleep_ms(100);
			if (st != FR_OK) {
				fprintf(stderr, "reopen: %s\n", fr_status_str(st));
				return 1;
			}
			break;
		default:
			fprintf(stderr, "%s\n", fr_status_str(st));
			fr_events_close(&r);
			return 1;
		}
	}
	fflush(stdout);
	fr_events_close(&r);
	return 0;
}
