#include "api/routes.h"

#include <stdio.h>
#include <string.h>

#include "api/auth.h"

#define ANYROLE (ROLE_ADMIN | ROLE_CLIENT | ROLE_STUDENT)
#define TRUSTED (ROLE_ADMIN | ROLE_CLIENT)

static const struct route routes[] = {
    {"GET", "/", GROUP_PUBLIC, ANYROLE, repl_ping},
    {"POST", "/write_file", GROUP_REPL, TRUSTED, repl_write_file},
    {"GET", "/read_file", GROUP_REPL, TRUSTED, repl_read_file},
    {"POST", "/delete_file", GROUP_REPL, TRUSTED, repl_delete_file},
    {"POST", "/rename_file", GROUP_REPL, TRUSTED, repl_rename_file},
    {"POST", "/fork_session", GROUP_REPL, TRUSTED, repl_fork_session},
    {"POST", "/run", GROUP_REPL, TRUSTED, repl_run},
    {"POST", "/evaluate_code", GROUP_REPL, TRUSTED, repl_evaluate_code},
    {"POST", "/jobs", GROUP_JOBS, TRUSTED, jobs_create},
    {"GET", "/jobs/{}", GROUP_JOBS, TRUSTED, jobs_get},
    {"GET", "/assignments", GROUP_GRADING, ANYROLE, assignments_list},
    {"GET", "/assignments/{}", GROUP_GRADING, ANYROLE, assignments_get},
    {"PUT", "/assignments/{}", GROUP_GRADING, ROLE_ADMIN, assignments_put},
    {"DELETE", "/assignments/{}", GROUP_GRADING, ROLE_ADMIN, assignments_delete},
    {"POST", "/assignments/{}/regrade", GROUP_GRADING, ROLE_ADMIN, assignments_regrade},
    {"POST", "/submit", GROUP_GRADING, ANYROLE, submissions_submit},
    {"GET", "/results/{}", GROUP_GRADING, ANYROLE, submissions_result},
    {"GET", "/submissions", GROUP_GRADING, ROLE_ADMIN | ROLE_STUDENT, submissions_list},
    {"GET", "/gradebook", GROUP_GRADING, ROLE_ADMIN, submissions_gradebook},
    {"POST", "/tokens", GROUP_GRADING, ROLE_ADMIN, submissions_token},
    {"GET", "/healthz", GROUP_PUBLIC, ANYROLE, health_healthz},
    {"GET", "/metrics", GROUP_OPS, ROLE_ADMIN, health_metrics},
};

/* Matches path against pattern, capturing {} segments. 1 on a match. */
static int
route_match(const char *pattern, const char *path, struct request *req)
{
	int np = 0;

	while (*pattern && *path) {
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t n = strcspn(path, "/");
			if (n == 0 || np >= ROUTE_PARAMS_MAX)
				return 0;
			req->params[np] = path;
			req->param_len[np++] = n;
			path += n;
			pattern += 2;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++, path++;
	}
	return *pattern == '\0' && *path == '\0';
}

#define NROUTES (int)(sizeof routes / sizeof routes[0])

int
routes_count(void)
{
	return NROUTES;
}

const char *
routes_name(int index)
{
	static char name[NROUTES + 1][64];

	if (index < 0 || index >= NROUTES)
		return "unknown";
	if (name[index][0] == '\0')
		snprintf(name[index], sizeof name[index], "%s %s", routes[index].method,
		         routes[index].path);
	return name[index];
}

void
routes_dispatch(struct request *req, struct response *resp)
{
	const struct route *found = NULL;
	int path_known = 0;

	req->route = NROUTES;
	for (int i = 0; i < NROUTES; i++) {
		if (!route_match(routes[i].path, req->path, req))
			continue;
		path_known = 1;
		if (strcmp(routes[i].method, req->method) == 0 ||
		    (strcmp(req->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
			found = &routes[i];
			req->route = i;
			break;
		}
	}
	if (found == NULL) {
		if (path_known)
			http_error(resp, ERR_METHOD, "%s is not allowed on %s", req->method,
			           req->path);
		else
			http_error(resp, ERR_NOT_FOUND, "there is no route %s", req->path);
		return;
	}
	if (auth_check(req, found, resp) < 0)
		return;
	found->handler(req, resp);
}
