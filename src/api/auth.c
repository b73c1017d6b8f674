#include "api/auth.h"

#include <string.h>

#include "common/config.h"
#include "common/token.h"

static const char *const group_names[] = {
    [GROUP_PUBLIC] = "public", [GROUP_REPL] = "repl",       [GROUP_JOBS] = "jobs",
    [GROUP_OPS] = "ops",       [GROUP_GRADING] = "grading",
};

static int
is_loopback(const char *addr)
{
	return addr != NULL &&
	       (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	        strncmp(addr, "::ffff:127.", 11) == 0 || strcmp(addr, "unix:") == 0);
}

static int
role_bit(const char *role)
{
	if (strcmp(role, "admin") == 0)
		return ROLE_ADMIN;
	if (strcmp(role, "client") == 0)
		return ROLE_CLIENT;
	if (strcmp(role, "student") == 0)
		return ROLE_STUDENT;
	return 0;
}

int
auth_check(struct request *req, const struct route *route, struct response *resp)
{
	const char *a = req->authorization;
	int found;

	if (route->group == GROUP_PUBLIC)
		return 0;
	if (a == NULL || *a == '\0') {
		/* the autograder needs to know who is asking: never anonymous */
		if (route->group != GROUP_GRADING &&
		    config_anonymous_allows(&cfg, group_names[route->group]) &&
		    (!cfg.anonymous_loopback_only || is_loopback(req->remote_addr)))
			return 0;
		http_error(resp, ERR_UNAUTHORIZED,
		           "this route needs an 'Authorization: Bearer <token>' header");
		return -1;
	}
	if (strncasecmp(a, "Bearer ", 7) != 0) {
		http_error(resp, ERR_UNAUTHORIZED,
		           "the Authorization header must be 'Bearer <token>'");
		return -1;
	}
	a += 7;
	while (*a == ' ')
		a++;
	found = token_lookup(a, strlen(a), &req->who);
	if (found < 0) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		return -1;
	}
	if (found == 0) {
		http_error(resp, ERR_UNAUTHORIZED, "the token is not valid");
		return -1;
	}
	if ((role_bit(req->who.role) & route->roles) == 0) {
		http_error(resp, ERR_FORBIDDEN, "a %s token may not use %s %s", req->who.role,
		           route->method, route->path);
		return -1;
	}
	return 0;
}
