#!/usr/bin/env bash
# tests/layering/check.sh -- the include rules of docs/architecture.md ("Modules"), checked.
#
# The system headers of every library sit in /usr/include, so include paths
# alone cannot keep libwebsockets out of the game manager; this reads every
# #include of every layer's files and fails on one the layer may not have.
#
#   check.sh [SOURCE_DIR]          check the tree (default: the repository)
#   check.sh --self-test           prove it fails: copy the tree, add wrong
#                                  includes one at a time, expect each caught
set -u

# layer | files (globs, relative to the source dir) | forbidden includes (ERE on the name)
RULES=(
  "game|game/*.c game/*.h|^(jansson\.h|uv\.h|libwebsockets\.h|hiredis/.*|openssl/.*|proto\.h|store.*\.h|gm.*\.h|srv\.h|msg\.h|log\.h)$"
  "proto|server/proto*.c server/proto*.h|^(uv\.h|libwebsockets\.h|hiredis/.*|store.*\.h|gm.*\.h|srv\.h|http.*\.h|redis_.*\.h)$"
  "store|server/store/*.c server/store/*.h|^(libwebsockets\.h|jansson\.h|gm.*\.h|srv\.h|proto\.h|http.*\.h)$"
  "gm|server/gm.c server/gm.h server/gm_rules.* server/gm_op.* server/gm_kinds.* server/gm_room.* server/gm_core.h|^(uv\.h|gm_uv\.h|libwebsockets\.h|jansson\.h|hiredis/.*|srv\.h|http.*\.h|redis_.*\.h|store_codec\.h|lim\.h|ws_msg\.h|proto_int\.h)$"
  "http|server/http.c server/http.h server/metrics.* server/srv_stats.h|^(srv\.h|store.*\.h|redis_.*\.h|hiredis/.*|jansson\.h)$"
  "pure|server/msg.* server/token.* server/log.* server/ws_msg.* server/lim.* server/store/redis_url.* server/store/store_codec.* server/web_files.*|^(uv\.h|libwebsockets\.h|jansson\.h|hiredis/.*|gm.*\.h|srv\.h)$"
)
# libraries that only one module may touch: name | ERE | files allowed
ONLY=(
  "jansson|^jansson\.h$|server/proto.c server/proto_enc.c server/proto_client.c server/proto_name.c server/proto_int.h"
  "hiredis|^hiredis/|server/store/store_redis.c server/store/store_redis_op.c server/store/store_redis_api.c server/store/store_redis_idx.c server/store/store_redis_presence.c server/store/redis_link.c server/store/redis_cluster.c server/store/redis_cluster_map.c server/store/redis_cluster_node.c server/store/redis_sub.c"
)

check_tree() {
  local dir=$1 bad=0 rule layer globs forbid f inc
  cd "$dir" || return 2
  for rule in "${RULES[@]}"; do
    IFS='|' read -r layer globs forbid <<<"$rule"
    for f in $globs; do
      [ -f "$f" ] || continue
      while read -r inc; do
        if [[ $inc =~ $forbid ]]; then
          echo "layering: $f ($layer) includes <$inc>, which the $layer layer may not"
          bad=1
        fi
      done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' "$f")
    done
  done
  for rule in "${ONLY[@]}"; do
    IFS='|' read -r layer forbid globs <<<"$rule"
    # the ERE names a header; on a whole #include line its end is the closing > or "
    local pat=${forbid#^}
    [[ $pat == *'$' ]] && pat="${pat%\$}[>\"]"
    while read -r f; do
      case " $globs " in *" $f "*) continue ;; esac
      echo "layering: $f includes $layer, which only ${globs// /, } may"
      bad=1
    done < <(grep -lE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]${pat}" \
               server/*.c server/*.h server/store/*.c server/store/*.h game/*.c game/*.h 2>/dev/null)
  done
  return $bad
}

self_test() {
  local src=$1 tmp fails=0 n=0 case file line
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  cp -r "$src/server" "$src/game" "$tmp/"
  if ! (check_tree "$tmp" >/dev/null); then
    echo "layering self-test: the unchanged tree does not pass"; return 1
  fi
  for case in "server/gm.c|#include <libwebsockets.h>" "server/gm_rules.c|#include <uv.h>" \
              "server/store/store.c|#include <jansson.h>" "game/game.c|#include \"proto.h\"" \
              "server/gm_room.c|#include \"srv.h\"" "server/srv.c|#include <hiredis/hiredis.h>" \
              "server/proto.c|#include \"store.h\"" "server/http.c|#include \"srv.h\"" \
              "server/metrics.c|#include \"srv.h\"" "server/srv.c|#include <jansson.h>"; do
    IFS='|' read -r file line <<<"$case"
    n=$((n + 1))
    cp "$src/$file" "$tmp/$file.orig"
    printf '%s\n' "$line" >>"$tmp/$file"
    if (check_tree "$tmp" >/dev/null); then
      echo "layering self-test: '$line' in $file was not caught"; fails=$((fails + 1))
    fi
    mv "$tmp/$file.orig" "$tmp/$file"
  done
  echo "layering self-test: $((n - fails)) passed, $fails failed"
  [ $fails -eq 0 ]
}

here=$(cd "$(dirname "$0")/../.." && pwd)
case "${1:-}" in
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --self-test) self_test "$here"; exit $? ;;
  "") dir=$here ;;
  *) dir=$1 ;;
esac
if (check_tree "$dir"); then
  echo "layering: every include is one its layer may have"
  exit 0
fi
exit 1
