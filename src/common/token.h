/* Bearer tokens: random, shown once, stored only as a BLAKE2b digest
 * (libsodium) under evald:token:{hex digest}. A lookup hashes the presented
 * token and fetches by digest, so no stored secret is ever compared
 * byte-by-byte with attacker input. */
#ifndef EVALD_TOKEN_H
#define EVALD_TOKEN_H

#include <stddef.h>

#define TOKEN_HEX_LEN 64
#define ROLE_MAX 16
#define STUDENT_ID_MAX 128

struct principal {
	char role[ROLE_MAX];                 /* "admin", "client" or "student" */
	char student_id[STUDENT_ID_MAX + 1]; /* empty unless a student token */
};

/* Initialises libsodium; fatal on failure. */
void token_init(void);
/* Creates a token for role (and student_id, may be NULL) and stores its
 * digest. Returns the malloc'd token, or NULL when Redis fails. */
char *token_create(const char *role, const char *student_id);
/* Looks up a presented token. Returns 1 and fills p when it is known, 0 when
 * it is not, -1 when Redis cannot be reached. */
int token_lookup(const char *token, size_t len, struct principal *p);
/* 1 if id is 1..128 of [A-Za-z0-9._@+-] (a student id as tokens, keys and
 * CSV rows carry it). */
int token_student_id_valid(const char *id, size_t len);
/* 1 if role is one of admin, client, student. */
int token_role_valid(const char *role);

#endif
