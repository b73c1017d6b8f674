/* Request counters of the API, by route and status, kept in memory shared
 * between the supervisor and its workers (each worker writes only its own
 * row, so no locks), and rendered for /metrics. */
#ifndef EVALD_METRICS_H
#define EVALD_METRICS_H

#include "common/util.h"

/* Maps the shared table for nworkers workers; fatal on failure. Called by
 * the supervisor before it forks. */
void metrics_init(int nworkers, int nroutes);
/* Counts one answered request of worker w: route index (nroutes for an
 * unknown route) and HTTP status; ms is the time it took. */
void metrics_count(int w, int route, int status, double ms);
/* Appends the Prometheus text of the request counters to b; route_name
 * gives "METHOD path" of a route index. */
void metrics_render(struct buf *b, const char *(*route_name)(int index));

#endif
