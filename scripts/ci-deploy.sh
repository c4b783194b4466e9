#!/usr/bin/env bash
# Deploys a CI build to an environment's host (the deploy jobs of .github/workflows/ci.yml):
#
#   DEPLOY_SSH_TARGET=deploy@host DEPLOY_SSH_KEY=... DEPLOY_SSH_KNOWN_HOSTS=... \
#     bash scripts/ci-deploy.sh ENV VERSION
#
# ENV is staging or production, VERSION the image tag built by the images job. dist/ (or
# $MMKT_CI_DIST) holds that job's artifact: mmctl and mmkt-images.tar.gz. Over ssh (the key from the secrets, the host key
# pinned, no prompt) it copies deploy/, mmctl and the images into ~/mmkt-releases/VERSION on the
# host and runs `mmctl deploy --env ENV --version VERSION --image-file ...` there, with the
# settings of /etc/mmkt/mmctl.env (the file the backup timers read). mmctl runs on the host
# because the pre-deploy backup and the schema check read the live database file.
#
# Exit codes: mmctl deploy's own (docs/DEPLOY.md), 2 for bad input here, 255 when ssh fails.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "scripts/ci-deploy.sh: $*" >&2
  echo "usage: DEPLOY_SSH_TARGET=user@host DEPLOY_SSH_KEY=... DEPLOY_SSH_KNOWN_HOSTS=... bash scripts/ci-deploy.sh staging|production VERSION" >&2
  exit 2
}

[ $# -eq 2 ] || usage "expected 2 arguments (environment, version), got $#"
env_name=$1
version=$2
case "$env_name" in
  staging | production) ;;
  *) usage "unknown environment '$env_name': deploys go to staging or production" ;;
esac
[[ "$version" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]] \
  || usage "version '$version' is not an image tag (letters, digits, '_', '.', '-')"
for secret in DEPLOY_SSH_TARGET DEPLOY_SSH_KEY DEPLOY_SSH_KNOWN_HOSTS; do
  [ -n "${!secret:-}" ] || usage "$secret is empty: set it as a secret of the '$env_name' environment"
done
[[ "$DEPLOY_SSH_TARGET" =~ ^[a-z_][a-z0-9_-]*@[A-Za-z0-9.-]+$ ]] \
  || usage "DEPLOY_SSH_TARGET must be user@host (a port goes in the host's ssh config)"
dist=${MMKT_CI_DIST:-dist}
for file in "$dist/mmctl" "$dist/mmkt-images.tar.gz" deploy/docker-compose.yml "deploy/env/$env_name.env"; do
  [ -f "$file" ] || usage "$file is missing: download the images job's artifact into $dist/ first"
done

# The key and the pinned host key live in a private directory removed on exit.
ssh_dir=$(mktemp -d)
trap 'rm -rf "$ssh_dir"' EXIT
(umask 077 && printf '%s\n' "$DEPLOY_SSH_KEY" >"$ssh_dir/key")
printf '%s\n' "$DEPLOY_SSH_KNOWN_HOSTS" >"$ssh_dir/known_hosts"
ssh_opts=(-i "$ssh_dir/key" -o IdentitiesOnly=yes -o BatchMode=yes
  -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$ssh_dir/known_hosts")
# The remote commands are built here on purpose: the values in them were validated above.
# shellcheck disable=SC2029
remote() { ssh "${ssh_opts[@]}" "$DEPLOY_SSH_TARGET" "$@"; }

release="mmkt-releases/$version"
echo "[ci-deploy] copying deploy/, mmctl and the images to $DEPLOY_SSH_TARGET:$release" >&2
remote "mkdir -p '$release'"
tar -cf - deploy -C "$dist" mmctl mmkt-images.tar.gz | remote "tar -xf - -C '$release'"

echo "[ci-deploy] mmctl deploy --env $env_name --version $version on $DEPLOY_SSH_TARGET" >&2
status=0
remote "cd '$release' && set -a && . /etc/mmkt/mmctl.env && set +a && \
  ./mmctl deploy --env '$env_name' --version '$version' --image-file mmkt-images.tar.gz --yes" \
  || status=$?

# The host keeps the five newest releases (the older images stay in the engine for rollbacks).
remote "cd mmkt-releases && ls -1t | tail -n +6 | xargs -r rm -rf --" || true
exit "$status"
