/* The API's routes: one table of {method, path, group, roles, handler},
 * matched in one place. A path segment written {} matches any one segment
 * and is handed to the handler in req->params. */
#ifndef EVALD_ROUTES_H
#define EVALD_ROUTES_H

#include "api/http.h"

enum route_group {
	GROUP_PUBLIC,  /* no token ever needed */
	GROUP_REPL,    /* the REPL routes of API.md section 1 */
	GROUP_JOBS,    /* the async jobs API */
	GROUP_OPS,     /* health and metrics */
	GROUP_GRADING, /* the autograder: always needs a token */
};

#define ROLE_ADMIN 1
#define ROLE_CLIENT 2
#define ROLE_STUDENT 4

typedef void route_handler(struct request *req, struct response *resp);

struct route {
	const char *method;
	const char *path;
	enum route_group group;
	int roles;
	route_handler *handler;
};

/* The number of routes, and "METHOD path" of route index (for metrics). */
int routes_count(void);
const char *routes_name(int index);
/* Finds the route for req, checks the caller may use it, and runs it. Any
 * failure becomes an error response. */
void routes_dispatch(struct request *req, struct response *resp);

/* Handlers, one file per API area. */
route_handler repl_ping, repl_write_file, repl_read_file, repl_delete_file, repl_rename_file,
    repl_fork_session, repl_run, repl_evaluate_code;
route_handler jobs_create, jobs_get;
route_handler assignments_list, assignments_get, assignments_put, assignments_delete,
    assignments_regrade;
route_handler submissions_submit, submissions_result, submissions_list, submissions_gradebook,
    submissions_token;
route_handler health_healthz, health_metrics;

#endif
