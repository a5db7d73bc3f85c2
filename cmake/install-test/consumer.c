/* consumer.c - smallest flowring consumer: the installed SDK compiles, links and answers. */
#include <flowring/flowring.h>

#include <stdio.h>

int main(void)
{
	struct fr_events_reader r;
	/* no producer under this name: "not ready" is an answer, not a failure */
	int st = fr_events_open(&r, "/nonexistent-flowring-dir", "nobody", FR_FROM_LATEST);
	printf("flowring SDK %s, ABI %u.%u: %s\n", FLOWRING_SDK_VERSION, FR_ABI_MAJOR, FR_ABI_MINOR, fr_status_str(st));
	return st == FR_NOT_READY ? 0 : 1;
}
