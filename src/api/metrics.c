#include "api/metrics.h"

#include <string.h>
#include <sys/mman.h>

#include "common/log.h"

static const int statuses[] = {200, 201, 202, 204, 400, 401, 403, 404,
                               405, 413, 422, 429, 500, 503, 504};
#define NSTATUS (int)(sizeof statuses / sizeof statuses[0])
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                 0.5,   1,      2.5,   5,    10,    30,   60};
#define NBUCKET (int)(sizeof buckets / sizeof buckets[0])

struct row {
	unsigned long long count[64][NSTATUS + 1]; /* [route][status index or other] */
	unsigned long long le[NBUCKET + 1];        /* request duration histogram */
	double sum;
};

static struct row *rows;
static int nrows, nroutes_total;

void
metrics_init(int nworkers, int nroutes)
{
	size_t size = sizeof(struct row) * (size_t)nworkers;

	if (nroutes + 1 > 64)
		fatalx("metrics: too many routes");
	rows = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rows == MAP_FAILED)
		fatal("metrics: mmap");
	memset(rows, 0, size);
	nrows = nworkers;
	nroutes_total = nroutes + 1;
}

void
metrics_count(int w, int route, int status, double ms)
{
	struct row *r;
	int s = NSTATUS, b = 0;

	if (rows == NULL || w < 0 || w >= nrows || route < 0 || route >= nroutes_total)
		return;
	r = &rows[w];
	for (int i = 0; i < NSTATUS; i++)
		if (statuses[i] == status)
			s = i;
	r->count[route][s]++;
	while (b < NBUCKET && ms / 1000.0 > buckets[b])
		b++;
	r->le[b]++;
	r->sum += ms / 1000.0;
}

void
metrics_render(struct buf *b, const char *(*route_name)(int index))
{
	unsigned long long cum = 0, le[NBUCKET + 1] = {0};
	double sum = 0;

	buf_puts(b, "# HELP evald_http_requests_total Requests answered, by route and status.\n"
	            "# TYPE evald_http_requests_total counter\n");
	for (int route = 0; route < nroutes_total; route++)
		for (int s = 0; s <= NSTATUS; s++) {
			unsigned long long n = 0;
			for (int w = 0; w < nrows; w++)
				n += rows[w].count[route][s];
			if (n == 0)
				continue;
			if (s < NSTATUS)
				buf_printf(
				    b,
				    "evald_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
				    route_name(route), statuses[s], n);
			else
				buf_printf(b,
				           "evald_http_requests_total{route=\"%s\",status="
				           "\"other\"} %llu\n",
				           route_name(route), n);
		}
	for (int w = 0; w < nrows; w++) {
		for (int i = 0; i <= NBUCKET; i++)
			le[i] += rows[w].le[i];
		sum += rows[w].sum;
	}
	buf_puts(b, "# HELP evald_http_request_duration_seconds Time to answer a request.\n"
	            "# TYPE evald_http_request_duration_seconds histogram\n");
	for (int i = 0; i < NBUCKET; i++) {
		cum += le[i];
		buf_printf(b, "evald_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
		           buckets[i], cum);
	}
	cum += le[NBUCKET];
	buf_printf(b, "evald_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
	buf_printf(b, "evald_http_request_duration_seconds_sum %.6f\n", sum);
	buf_printf(b, "evald_http_request_duration_seconds_count %llu\n", cum);
}
