#!/usr/bin/env bash
# QuizMarker API with curl: authenticate, upload an answer sheet, wait for it, grade it and fetch the results.
#
#   QM_URL=https://demo.quizmarker.example QM_TOKEN=qm_... QM_SHEET=answers.pdf QM_STANDARD=11 ./curl.sh
#
# QM_URL    your organization's address (development: http://demo.localhost:8000)
# QM_HOST   optional Host header, when QM_URL is an IP address (e.g. QM_URL=http://127.0.0.1:8000
#           QM_HOST=demo.localhost)
# QM_TOKEN  an API token (Account → API tokens, or `python manage.py drf_create_token <email>`)
# QM_SHEET  a photo or PDF of an answer sheet; QM_STANDARD the Care Certificate standard it answers (1-15)
#
# Needs curl and jq. Instead of polling (step 3), you can register a webhook (Settings → Webhooks) or pass
# `-F callback_url=https://your.server/hook` to the upload and get job.completed POSTed to you, signed with
# X-QuizMarker-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")> (see client.py for checking it).
set -euo pipefail

: "${QM_URL:?set QM_URL, e.g. http://demo.localhost:8000}"
: "${QM_TOKEN:?set QM_TOKEN to an API token}"
: "${QM_SHEET:?set QM_SHEET to an answer sheet file}"
QM_STANDARD="${QM_STANDARD:-}"
api() {  # api <method> <path> [curl options...]: prints the response's "data", fails on an error answer
  local method=$1 path=$2
  shift 2
  local host=()
  if [ -n "${QM_HOST:-}" ]; then host=(-H "Host: $QM_HOST"); fi
  local body
  body=$(curl -sS -X "$method" "${host[@]}" -H "Authorization: Token $QM_TOKEN" "$@" "$QM_URL/api/v1/$path")
  if [ "$(jq -r .success <<<"$body")" != "true" ]; then
    echo "QuizMarker answered: $(jq -r '.code + ": " + .error' <<<"$body")" >&2
    return 1
  fi
  jq .data <<<"$body"
}

wait_for() {  # wait_for <job id>: poll every 2 s until the job has finished
  local job status
  while true; do
    job=$(api GET "jobs/$1")
    status=$(jq -r .status <<<"$job")
    echo "  job $1: $status $(jq -r .progress <<<"$job")% $(jq -r .current_step <<<"$job")" >&2
    case $status in
      completed) return 0 ;;
      failed | cancelled) echo "  $(jq -r .error <<<"$job")" >&2; return 1 ;;
    esac
    sleep 2
  done
}

echo "1. Authenticate: the standards this organization can grade against" >&2
api GET standards | jq -r '.[] | "   \(.id): \(.title)"' >&2

echo "2. Upload $QM_SHEET" >&2
fields=(-F "files=@$QM_SHEET")
if [ -n "$QM_STANDARD" ]; then fields+=(-F "standard_id=$QM_STANDARD"); fi
upload_job=$(api POST upload "${fields[@]}" | jq -r .job_id)

echo "3. Wait for the pages to be read" >&2
wait_for "$upload_job"

echo "4. Grade the scripts of that upload" >&2
grade_body=$(jq -n --arg job "$upload_job" --arg standard "$QM_STANDARD" \
  '{upload_job_id: $job} + (if $standard == "" then {} else {standard_id: ($standard | tonumber)} end)')
grading_job=$(api POST grade -H "Content-Type: application/json" -d "$grade_body" | jq -r .job_id)
wait_for "$grading_job"

echo "5. Fetch the results" >&2
for submission in $(api GET "jobs/$grading_job/result" | jq -r '.submission_ids[]'); do
  api GET "submissions/$submission" | jq -c '{id, standard, total_score, max_score, percentage, needs_review}'
done
