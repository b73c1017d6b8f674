/* What loading evald's seccomp filter costs a process.
 *
 * Forks N children that exit at once, then N that first load the filter the
 * executor builds (src/executor/filter.c, linked in), and prints the wall
 * time and the children's CPU per fork for each, three times over. Build it
 * against a built tree:
 *
 *   cc -O2 -Isrc -o /tmp/filtercost bench/filtercost.c \
 *       src/executor/filter.o src/libevaldcommon.a -lseccomp && /tmp/filtercost [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "executor/filter.h"

static double
usec(const struct timeval *a, const struct timeval *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e6 + (double)(b->tv_usec - a->tv_usec);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;

	if (n <= 0 || filter_init() < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		perror("filtercost");
		return 1;
	}
	printf("%d forks per line; the filter has %d rules\n", n, filter_rule_count());
	for (int round = 0; round < 6; round++) {
		int load = round % 2;
		struct timespec t0, t1;
		struct rusage r0, r1;

		getrusage(RUSAGE_CHILDREN, &r0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < n; i++) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(load && filter_load() < 0 ? 1 : 0);
			if (pid < 0 || waitpid(pid, NULL, 0) < 0) {
				perror("filtercost");
				return 1;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		getrusage(RUSAGE_CHILDREN, &r1);
		printf("%s  %6.1f us wall, %6.1f us CPU in the child\n",
		       load ? "fork + load the filter" : "fork                  ",
		       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
		           1e3 / n,
		       (usec(&r0.ru_utime, &r1.ru_utime) + usec(&r0.ru_stime, &r1.ru_stime)) / n);
	}
	return 0;
}
