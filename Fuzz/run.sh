#!/bin/sh
# Fuzzes one check of Tests/FuzzTests/Checks with libFuzzer and AddressSanitizer:
#   Fuzz/run.sh NAME [SECONDS] [libFuzzer options...]
# NAME is json, relays, plugin, frames, http, forwarded or room; SECONDS defaults to 60 (0: until stopped).
# Builds the driver (FUZZ=1 adds the Fuzz<Name> targets) into .build-fuzz, runs it over
# .build-fuzz/corpus/NAME (new inputs it finds, not committed) and Fuzz/Seeds/NAME. An input that
# breaks a check or crashes is saved as Fuzz/Findings/NAME-crash-<sha1> (git-ignored); replay it
# with `.build-fuzz/release/Fuzz<Name> FILE`, and commit it to Fuzz/Seeds/NAME once fixed so the
# seed tests keep it fixed.
set -eu
cd "$(dirname "$0")/.."
name=${1:?usage: Fuzz/run.sh json|relays|plugin|frames|http|forwarded|room [SECONDS] [libFuzzer options]}
seconds=${2:-60}
case $seconds in '' | *[!0-9]*) echo "SECONDS must be a whole number, not $seconds" >&2; exit 2 ;; esac
[ $# -ge 2 ] && shift 2 || shift $#
case $name in
json) product=FuzzJSON ;;
relays) product=FuzzRelays ;;
plugin) product=FuzzPlugin ;;
frames) product=FuzzFrames ;;
http) product=FuzzHTTP ;;
forwarded) product=FuzzForwarded ;;
room) product=FuzzRoom ;;
*) echo "unknown check: $name" >&2; exit 2 ;;
esac
# Inputs up to 4 KiB, but for http: LaxInteger's limit (4,300 bytes) must be reachable.
max_len=4096
[ "$name" = http ] && max_len=8192

# -enable-testing: the checks use @testable imports, which a release build allows only with it.
# lld: gold stops with "internal error in format_file_lineno" on these sanitized, -g objects.
FUZZ=1 swift build -c release --scratch-path .build-fuzz --product "$product" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing -Xswiftc -g -Xswiftc -use-ld=lld

mkdir -p ".build-fuzz/corpus/$name" Fuzz/Findings
# libFuzzer reports a crash itself; Swift's backtracer would too, and outlive it holding its output open.
export SWIFT_BACKTRACE=enable=no
# The JSON dictionary helps every check: all of them read JSON somewhere.
exec ".build-fuzz/release/$product" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
    -max_len="$max_len" -print_final_stats=1 -dict=Fuzz/json.dict -artifact_prefix="Fuzz/Findings/$name-" \
    "$@" ".build-fuzz/corpus/$name" "Fuzz/Seeds/$name"
