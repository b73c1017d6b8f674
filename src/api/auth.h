/* Who may call a route: a bearer token's role, or the anonymous policy of
 * the configuration for callers without a token. */
#ifndef EVALD_AUTH_H
#define EVALD_AUTH_H

#include "api/http.h"
#include "api/routes.h"

/* Returns 0 when req may use route (req->who filled), else -1 with resp set
 * to 401, 403 or 503. */
int auth_check(struct request *req, const struct route *route, struct response *resp);

#endif
