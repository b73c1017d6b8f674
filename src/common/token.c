#include "common/token.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/store.h"
#include "common/util.h"

void
token_init(void)
{
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
}

static void
token_digest(const char *token, size_t len, char hex[TOKEN_HEX_LEN + 1])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof h, (const unsigned char *)token, len, NULL, 0);
	sodium_bin2hex(hex, TOKEN_HEX_LEN + 1, h, sizeof h);
}

int
token_student_id_valid(const char *id, size_t len)
{
	if (len == 0 || len > STUDENT_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c != '\0' && strchr("._@+-", c) != NULL)))
			return 0;
	}
	return 1;
}

int
token_role_valid(const char *role)
{
	return !strcmp(role, "admin") || !strcmp(role, "client") || !strcmp(role, "student");
}

char *
token_create(const char *role, const char *student_id)
{
	unsigned char raw[32];
	char b64[64], hex[TOKEN_HEX_LEN + 1];
	char *token;
	redisReply *r;

	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(b64, sizeof b64, raw, sizeof raw,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	token = xasprintf("evd_%s", b64);
	token_digest(token, strlen(token), hex);
	r = store_cmd("HSET " KEY_PREFIX "token:%s role %s student_id %s created %lld", hex, role,
	              student_id ? student_id : "", (long long)(now_real_ms() / 1000));
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		if (r)
			freeReplyObject(r);
		sodium_memzero(token, strlen(token));
		free(token);
		return NULL;
	}
	freeReplyObject(r);
	return token;
}

int
token_lookup(const char *token, size_t len, struct principal *p)
{
	char hex[TOKEN_HEX_LEN + 1];
	redisReply *r;
	int found = 0;

	memset(p, 0, sizeof *p);
	if (len == 0 || len > 256)
		return 0;
	token_digest(token, len, hex);
	r = store_cmd("HMGET " KEY_PREFIX "token:%s role student_id", hex);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len < ROLE_MAX) {
		snprintf(p->role, sizeof p->role, "%s", r->element[0]->str);
		if (r->element[1]->type == REDIS_REPLY_STRING)
			snprintf(p->student_id, sizeof p->student_id, "%s", r->element[1]->str);
		found = token_role_valid(p->role);
	} else if (r->type == REDIS_REPLY_ERROR) {
		found = -1;
	}
	freeReplyObject(r);
	return found;
}
