#!/usr/bin/env bash
# kubectl auth whoami / can-i (issue 14 item 7): discovery lists
# authentication.k8s.io and authorization.k8s.io, SelfSubjectReview names the
# one admin user, SelfSubjectAccessReview allows it everything; a review
# with neither resource nor non-resource attributes is 422, as in kube.
. "$(dirname "$0")/lib.sh"

D=$T_TMP/data
vim_start "$D" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts"

out=$(k api-versions 2>&1)
expect_match "api-versions lists authentication.k8s.io/v1" '^authentication.k8s.io/v1$' "$out"
expect_match "api-versions lists authorization.k8s.io/v1" '^authorization.k8s.io/v1$' "$out"
expect_match "api-versions still lists the image group" '^virtualization.deckhouse.io/v1alpha2$' "$out"
out=$(k api-resources --api-group=authorization.k8s.io 2>&1)
expect_match "api-resources shows selfsubjectaccessreviews" 'selfsubjectaccessreviews +authorization.k8s.io/v1 +false +SelfSubjectAccessReview' "$out"
expect_eq "legacy /apis lists the same three groups" \
	"virtualization.deckhouse.io authentication.k8s.io authorization.k8s.io" \
	"$(api GET /apis | jq -r '[.groups[].name] | join(" ")')"

out=$(k auth whoami 2>&1)
expect_match "kubectl auth whoami names the admin user" 'Username +admin' "$out"
expect_match "kubectl auth whoami shows its groups" 'Groups +\[system:masters system:authenticated\]' "$out"
out=$(k auth whoami -o json 2>&1)
expect_eq "the SelfSubjectReview is authentication.k8s.io/v1" "authentication.k8s.io/v1 SelfSubjectReview" \
	"$(printf '%s' "$out" | jq -r '"\(.apiVersion) \(.kind)"')"

out=$(k auth can-i create virtualimages 2>&1)
expect_eq "kubectl auth can-i create virtualimages => yes" "yes" "$out"
out=$(k auth can-i delete clustervirtualimages 2>/dev/null)
expect_eq "kubectl auth can-i delete clustervirtualimages => yes" "yes" "$out"
out=$(k auth can-i get /healthz 2>&1)
expect_eq "kubectl auth can-i on a non-resource URL => yes" "yes" "$out"
out=$(k auth can-i --list 2>&1)
expect_match "kubectl auth can-i --list shows the wildcard rule" '\*\.\* +\[\] +\[\] +\[\*\]' "$out"

c=$(api POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews -H 'Content-Type: application/json' \
	--data '{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}' \
	-o "$T_TMP/bad" -w '%{http_code}')
expect_eq "a review with neither attribute set is 422" "422" "$c"
expect_match "its message is kube's" 'exactly one of nonResourceAttributes or resourceAttributes must be specified' "$(cat "$T_TMP/bad")"
c=$(api GET /apis/authentication.k8s.io/v1/selfsubjectreviews -o /dev/null -w '%{http_code}')
expect_eq "a review is only created: GET is 405" "405" "$c"
c=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$VIM_URL/apis/authentication.k8s.io/v1/selfsubjectreviews" \
	-H 'Content-Type: application/json' --data '{}')
expect_eq "whoami without the token is 401" "401" "$c"
exit $T_FAILED
