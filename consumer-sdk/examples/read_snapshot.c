/* read_snapshot.c - SDK example: read a client's newest snapshot, zero-copy with validation,
 * falling back to a copy when the producer overwrote it while we read.
 *
 *   read_snapshot [instance [client_id [shm_dir]]]      (defaults: "default", "-1", /dev/shm)
 *
 * Waits up to 5 s for a snapshot; exit status 0 when one was printed.
 */
#include <flowring/flowring.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	const char *instance = argc > 1 ? argv[1] : "default";
	const char *client = argc > 2 ? argv[2] : FR_DEBUG_CLIENT_ID;
	const char *shm_dir = argc > 3 ? argv[3] : NULL;
	struct fr_snapshot_reader r;
	struct fr_snapshot_view v;
	unsigned long long sent = 0, recv = 0;
	int st, tries = 0;

	while ((st = fr_snapshot_open(&r, shm_dir, instance, client)) == FR_NOT_READY && tries++ < 100)
		fr_sleep_ms(50);
	if (st != FR_OK) {
		fprintf(stderr, "open %s/%s: %s\n", instance, client, fr_status_str(st));
		return 1;
	}
	for (tries = 0; tries < 100; tries++) {
		st = fr_snapshot_latest(&r, &v);
		if (st == FR_NEW_GENERATION) { /* the producer grew or restarted the region */
			fr_snapshot_reopen(&r);
			continue;
		}
		if (st == FR_AGAIN) {
			fr_snapshot_wait(&r, 0, 5000);
			continue;
		}
		if (st != FR_OK)
			break;
		sent = recv = 0;
		for (uint64_t i = 0; i < v.count; i++) {
			sent += v.records[i].last_sent_bytes;
			recv += v.records[i].last_recv_bytes;
		}
		if (fr_snapshot_valid(&r, &v) == FR_OK) {
			printf("snapshot %llu (generation %llu): %llu connections, %llu bytes sent, %llu received since "
			       "the previous read\n",
			       (unsigned long long)v.snap_seq, (unsigned long long)v.generation,
			       (unsigned long long)v.count, sent, recv);
			fr_snapshot_close(&r);
			return 0;
		}
		/* overwritten while we summed: take a private copy instead */
		static struct fr_conn copy[4096];
		struct fr_snapshot_view meta;
		if (fr_snapshot_copy(&r, copy, 4096, &meta) == FR_OK) {
			printf("snapshot %llu (copied): %llu connections\n", (unsigned long long)meta.snap_seq,
			       (unsigned long long)meta.count);
			fr_snapshot_close(&r);
			return 0;
		}
	}
	fprintf(stderr, "no snapshot: %s\n", fr_status_str(st));
	fr_snapshot_close(&r);
	return 1;
}
