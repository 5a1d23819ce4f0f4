/*
 * api/auth_review — the reviews `kubectl auth whoami` (SelfSubjectReview,
 * authentication.k8s.io/v1; kubectl 1.27 posts to v1beta1, which is served
 * but not discovered) and `kubectl auth can-i` (SelfSubjectAccessReview
 * and, for --list, SelfSubjectRulesReview, authorization.k8s.io/v1) post.
 *
 * Today the server has one user, the admin of the generated kubeconfig (the
 * bearer token was checked before any handler runs), who may do everything:
 * the answers say so.  The access-control work replaces user_name and
 * allowed with real lookups; the request and answer shapes stay.
 */
#include "api/proto.h"
#include "api/internal.h"
#include "core/timeutil.h"

#include <string.h>

#define AUTHN_V1 "authentication.k8s.io/v1"
#define AUTHN_V1BETA1 "authentication.k8s.io/v1beta1"
#define AUTHZ_V1 "authorization.k8s.io/v1"

/* The kubeconfig's user (cmd/vimaged writes it as "admin"), in the group
 * kube gives a cluster administrator. */
static json_t *user_info(void)
{
	return json_pack("{s:s,s:[s,s]}", "username", "admin", "groups", "system:masters",
	                 "system:authenticated");
}

/* The posted review with kube's server-filled members: apiVersion, kind,
 * metadata.creationTimestamp, and the status (stolen). */
static json_t *answer(json_t *in, const char *api_version, const char *kind, json_t *status)
{
	char ts[VIM_TIME_TEXT_MAX];
	json_t *md = json_object_get(in, "metadata");

	vim_time_format(vim_time_now(), ts, sizeof(ts));
	if (!json_is_object(md)) {
		md = json_object();
		json_object_set_new(in, "metadata", md);
	}
	json_object_set_new(md, "creationTimestamp", json_string(ts));
	json_object_set_new(in, "apiVersion", json_string(api_version));
	json_object_set_new(in, "kind", json_string(kind));
	json_object_set_new(in, "status", status);
	return json_incref(in);
}

static void access_review(struct api_req *r, json_t *in)
{
	json_t *spec = json_object_get(in, "spec");
	bool res = json_is_object(json_object_get(spec, "resourceAttributes"));
	bool nonres = json_is_object(json_object_get(spec, "nonResourceAttributes"));

	/* kube's ValidateSelfSubjectAccessReviewSpec */
	if (res == nonres) {
		api_reply_status(r, 422, "Invalid",
		                 "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: "
		                 "spec.resourceAttributes: Invalid value: \"null\": exactly one of "
		                 "nonResourceAttributes or resourceAttributes must be specified");
		return;
	}
	api_reply_json(r, 201,
	               answer(in, AUTHZ_V1, "SelfSubjectAccessReview",
	                      json_pack("{s:b,s:s}", "allowed", 1, "reason",
	                                "the one user of this server is its administrator")));
}

static void rules_review(struct api_req *r, json_t *in)
{
	json_t *st = json_pack("{s:[{s:[s],s:[s],s:[s]}],s:[{s:[s],s:[s]}],s:b}", "resourceRules",
	                       "verbs", "*", "apiGroups", "*", "resources", "*", "nonResourceRules",
	                       "verbs", "*", "nonResourceURLs", "*", "incomplete", 0);

	api_reply_json(r, 201, answer(in, AUTHZ_V1, "SelfSubjectRulesReview", st));
}

/* The posted review: JSON or YAML, or (client-go's default for built-in
 * kinds) protobuf, of which an answer needs only the access review's spec;
 * NULL after a 400. */
static json_t *review_body(struct api_req *r)
{
	const char *ct = api_header(r, "Content-Type");
	json_t *spec = NULL;

	if (!ct || strncmp(ct, "application/vnd.kubernetes.protobuf", 35) != 0)
		return api_parse_body(r, "body");
	if (strcmp(r->resource, "selfsubjectaccessreviews") != 0)
		return json_object();
	if (api_proto_review_spec(r->body, r->body_len, &spec) < 0) {
		api_reply_status(r, 400, "BadRequest",
		                 "the protobuf body of the SelfSubjectAccessReview does not parse");
		return NULL;
	}
	return json_pack("{s:o}", "spec", spec);
}

void api_handle_auth_review(struct api_req *r)
{
	const bool authn = strncmp(r->path, "/apis/authentication.k8s.io/", 28) == 0;
	json_t *in;

	if ((authn && strcmp(r->resource, "selfsubjectreviews") != 0) ||
	    (!authn && strcmp(r->resource, "selfsubjectaccessreviews") != 0 &&
	     strcmp(r->resource, "selfsubjectrulesreviews") != 0)) {
		api_reply_error(r, VIM_ENOTFOUND,
		                "the server could not find the requested resource");
		return;
	}
	if (strcmp(r->method, "POST") != 0) {
		api_reply_status(r, 405, "MethodNotAllowed",
		                 "a review is only created (POST): it is answered, not stored");
		return;
	}
	if (!api_check_write_options(r, "CreateOptions", true) || !(in = review_body(r)))
		return;
	if (!json_is_object(in)) {
		api_reply_status(r, 400, "BadRequest", "the review must be a JSON object");
	} else if (authn) {
		/* the answer in the version asked for: client-go decodes it as that */
		const bool beta = strncmp(r->path, "/apis/" AUTHN_V1BETA1 "/", 36) == 0;
		api_reply_json(r, 201,
		               answer(in, beta ? AUTHN_V1BETA1 : AUTHN_V1, "SelfSubjectReview",
		                      json_pack("{s:o}", "userInfo", user_info())));
	} else if (strcmp(r->resource, "selfsubjectaccessreviews") == 0) {
		access_review(r, in);
	} else {
		rules_review(r, in);
	}
	json_decref(in);
}
