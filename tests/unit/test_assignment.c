/* Validation of assignment definitions, times and the grade job kind. */
#include <stdlib.h>
#include <string.h>

#include "common/assignment.h"
#include "common/config.h"
#include "common/job.h"
#include "common/jsonx.h"
#include "tap.h"

/* Validates text as a PUT body; returns the normalised object or NULL with
 * err filled. */
static struct json_object *
check(const char *text, char *err, size_t errlen)
{
	struct jx_err e;
	struct json_object *def = jx_parse(text, strlen(text), 64, &e), *out;

	if (def == NULL) {
		snprintf(err, errlen, "bad test JSON: %s", e.detail);
		return NULL;
	}
	out = assignment_validate(def, "cp1", err, errlen);
	json_object_put(def);
	return out;
}

#define BASE "\"title\": \"T\", \"max_points\": 10, "
#define IO_TEST                                                                                    \
	"{\"kind\": \"io\", \"entry_point\": \"add\", \"input\": \"a=1, b=2\", \"output\": \"3\"}"

static int
refused(const char *text, const char *want)
{
	char err[512] = "";
	struct json_object *o = check(text, err, sizeof err);

	if (o != NULL) {
		json_object_put(o);
		printf("# accepted: %s\n", text);
		return 0;
	}
	if (strstr(err, want) == NULL) {
		printf("# error '%s' does not contain '%s'\n", err, want);
		return 0;
	}
	return 1;
}

int
main(void)
{
	char err[512];
	struct json_object *o, *v, *t;
	int64_t ms;
	char buf[40];
	int count;

	config_defaults(&cfg);

	ok(assignment_slug_valid("cp1-functions", 13), "a plain slug is valid");
	ok(!assignment_slug_valid("CP1", 3), "upper case is not");
	ok(!assignment_slug_valid("../x", 4), "a path is not");
	ok(!assignment_slug_valid("-x", 2), "a leading dash is not");
	ok(!assignment_slug_valid("", 0), "empty is not");

	ok(assignment_time_parse("2026-12-01T23:59:00Z", &ms) == 0 && ms == 1796169540000LL,
	   "UTC time parses");
	ok(assignment_time_parse("2026-12-02T01:59:00+02:00", &ms) == 0 && ms == 1796169540000LL,
	   "an offset is applied");
	ok(assignment_time_parse("2026-12-01", &ms) < 0, "a date alone is refused");
	ok(assignment_time_parse("2026-13-01T00:00:00Z", &ms) < 0, "month 13 is refused");
	ok(assignment_time_parse("2026-12-01T23:59:00Zjunk", &ms) < 0, "trailing text is refused");
	assignment_time_format(1796169540000LL, buf, sizeof buf);
	is_str(buf, "2026-12-01T23:59:00Z", "formats back");

	o = check("{" BASE "\"tests\": [" IO_TEST "]}", err, sizeof err);
	ok(o != NULL, "a minimal io assignment is valid (%s)", o ? "" : err);
	if (o) {
		t = json_object_array_get_idx((json_object_object_get_ex(o, "tests", &v), v), 0);
		json_object_object_get_ex(t, "visibility", &v);
		is_str(json_object_get_string(v), "hidden", "visibility defaults to hidden");
		json_object_object_get_ex(t, "name", &v);
		is_str(json_object_get_string(v), "add(a=1, b=2)",
		       "an io test is named by its call");
		json_object_object_get_ex(o, "hidden_feedback", &v);
		is_str(json_object_get_string(v), "summary", "hidden_feedback defaults to summary");
		json_object_put(o);
	}
	ok(refused("{\"max_points\": 10, \"tests\": [" IO_TEST "]}", "'title' is required"),
	   "title is required");
	ok(refused("{" BASE "\"tests\": []}", "tests: must hold 1"), "no tests is refused");
	ok(refused("{" BASE "\"tests\": [{\"kind\": \"cobol\"}]}",
	           "tests[0]: unknown kind 'cobol'"),
	   "an unknown kind names the test");
	ok(refused("{" BASE "\"tests\": [" IO_TEST ", {\"kind\": \"io\", \"entry_point\": \"f\", "
	           "\"input\": \"\", \"output\": \"1\", \"points\": \"two\"}]}",
	           "tests[1]: field 'points' must be a number"),
	   "points not a number names the field");
	ok(refused("{" BASE "\"tests\": [{\"kind\": \"pytest\", \"file\": \"tests/t.py\"}]}",
	           "tests[0]: file 'tests/t.py' is missing"),
	   "a missing file is named");
	ok(refused("{" BASE "\"hiden_feedback\": \"full\", \"tests\": [" IO_TEST "]}",
	           "unknown field 'hiden_feedback'"),
	   "a misspelt field is refused");
	ok(refused("{" BASE "\"due_at\": \"tomorrow\", \"tests\": [" IO_TEST "]}", "due_at"),
	   "a bad due_at is refused");
	ok(refused("{" BASE "\"tests\": [{\"kind\": \"stdio\", \"stdout\": \"3\", \"compare\": "
	           "\"fuzzy\"}]}",
	           "field 'compare'"),
	   "an unknown comparator is refused");
	ok(refused("{" BASE "\"files\": {\"../x\": \"\"}, \"tests\": [" IO_TEST "]}", "files"),
	   "a file path escaping the assignment is refused");
	ok(refused("{" BASE "\"limits\": {\"time_s\": 100000}, \"tests\": [" IO_TEST "]}",
	           "time_s"),
	   "a time limit over case_timeout_max_s is refused");

	o = check("{" BASE "\"starter\": \"nb.py\", \"files\": {\"nb.py\": \"x = 1\\n\", "
	          "\"tests/test_a.py\": \"@pytest.mark.points(3)\\ndef test_a(): pass\\n"
	          "def test_b(): pass\\n\"}, \"tests\": [{\"kind\": \"pytest\", \"file\": "
	          "\"tests/test_a.py\", \"visibility\": \"hidden\"}, " IO_TEST "]}",
	          err, sizeof err);
	ok(o != NULL, "an assignment with a starter and a pytest file is valid (%s)", o ? "" : err);
	if (o) {
		struct json_object *view = assignment_public_view(o), *h;
		const char *text = json_object_to_json_string(view);
		ok(strstr(text, "test_a") == NULL, "the public view holds no hidden test source");
		json_object_object_get_ex(view, "hidden", &h);
		json_object_object_get_ex(h, "count", &v);
		ok(json_object_get_int(v) == 3, "hidden count: 2 test functions and 1 io test");
		json_object_object_get_ex(h, "points", &v);
		ok(json_object_get_double(v) == 5, "hidden points: 3 + 1 + 1");
		json_object_object_get_ex(view, "starter", &v);
		json_object_object_get_ex(v, "content", &v);
		is_str(json_object_get_string(v), "x = 1\n", "the starter is in the view");
		json_object_put(view);
		json_object_put(o);
	}
	ok(assignment_pytest_points(
	       "class TestX:\n    @pytest.mark.points(2)\n    def test_m(self):"
	       "\n        pass\n",
	       &count) == 2 &&
	       count == 1,
	   "points markers on methods count");

	{
		struct job j, d;
		char *text;
		size_t len;
		memset(&j, 0, sizeof j);
		job_new_id(j.id);
		j.kind = JOB_GRADE;
		j.created_ms = 5;
		j.submission = "0123abcd-0000-4000-8000-000000000000";
		text = job_encode(&j, &len);
		ok(job_decode(text, len, &d, err, sizeof err) == 0 && d.kind == JOB_GRADE &&
		       strcmp(d.submission, j.submission) == 0,
		   "a grade job round-trips");
		job_free(&d);
		free(text);
		static const char bad_sub[] =
		    "{\"id\":\"0123abcd-0000-4000-8000-000000000000\",\"kind\":\"grade\","
		    "\"created_ms\":1,\"submission\":\"../../x\"}";
		ok(job_decode(bad_sub, sizeof bad_sub - 1, &d, err, sizeof err) < 0,
		   "a grade job with a bad submission id is refused");
	}
	config_free(&cfg);
	return tap_done();
}
