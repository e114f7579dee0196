#!/usr/bin/env bash
# Entrypoint of the job image (run under tini, which forwards signals and reaps children).
#
#   docker run IMAGE job <name> [args...]   run a job (see `job --help`)
#   docker run IMAGE --list                 a first word starting with "-" goes to `job`
#   docker run IMAGE <anything else>        runs as given: bash, python -c ..., true
#
# The last word is always exec, so the job is the process that receives SIGTERM and its exit
# status is the container's.
set -Eeuo pipefail

# usage: _is_sourced
# True when this file is sourced (by tests) rather than executed.
_is_sourced() {
	[ "${#FUNCNAME[@]}" -ge 2 ] &&
		[ "${FUNCNAME[0]}" = '_is_sourced' ] &&
		[ "${FUNCNAME[1]}" = 'source' ]
}

# usage: _main "$@"
_main() {
	if [ "${1:0:1}" = '-' ]; then
		set -- job "$@"
	fi
	exec "$@"
}

if ! _is_sourced; then
	_main "$@"
fi
