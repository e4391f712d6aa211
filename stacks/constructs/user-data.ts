/**
 * First-boot script of an instance: the Node.js runtime the service needs and the CodeDeploy
 * agent, each verified. Everything else (the service, its user, its unit) arrives with a
 * revision, so a new model never needs a new instance.
 */
/**
 * The CodeDeploy agent release every instance runs (>= 1.7.0 is the first with Ruby 3.x on
 * Ubuntu; 1.8.1 is current). The installer's `latest` takes whatever is newest, so instances
 * booted a month apart would differ: pin the package key in the regional resource-kit bucket.
 */
export const CODEDEPLOY_AGENT_VERSION = "1.8.1";
export const CODEDEPLOY_AGENT_PACKAGE = `releases/codedeploy-agent_${CODEDEPLOY_AGENT_VERSION}-26_all.deb`;

export interface UserDataProps {
  readonly region: string;
  readonly nodeMajorVersion: number;
  /** The AMI already has both: only check them. */
  readonly amiHasRuntime: boolean;
}

export function renderUserData(props: UserDataProps): string {
  const { region, nodeMajorVersion } = props;
  const checks = `node_major=$(node --version | sed -E 's/^v([0-9]+).*/\\1/')
[[ "$node_major" == "${nodeMajorVersion}" ]] || { echo "Node.js ${nodeMajorVersion} expected, found $(node --version)" >&2; exit 1; }
# Prints "codedeploy-agent<TAB>VERSION". No --showformat: its dollar-brace fields would be Terraform interpolations.
agent_version=$(dpkg-query -W codedeploy-agent | cut -f2)
[[ "$agent_version" == ${CODEDEPLOY_AGENT_VERSION}-* ]] || { echo "CodeDeploy agent ${CODEDEPLOY_AGENT_VERSION} expected, found $agent_version" >&2; exit 1; }
systemctl enable --now codedeploy-agent
systemctl is-active --quiet codedeploy-agent`;
  if (props.amiHasRuntime) {
    return `#!/bin/bash
# Runtime is baked into the AMI: fail the boot loudly if it is not.
set -euo pipefail
${checks}
`;
  }
  return `#!/bin/bash
# Installs Node.js ${nodeMajorVersion} (checksum-verified official build) and the CodeDeploy agent ${CODEDEPLOY_AGENT_VERSION}.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q ruby-full wget curl xz-utils ca-certificates

case "$(uname -m)" in
  x86_64) node_arch=x64 ;;
  aarch64) node_arch=arm64 ;;
  *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
work=$(mktemp -d)
base=https://nodejs.org/dist/latest-v${nodeMajorVersion}.x
curl -fsSL --retry 5 "$base/SHASUMS256.txt" -o "$work/SHASUMS256.txt"
tarball=$(grep -oE "node-v[0-9.]+-linux-$node_arch\\.tar\\.xz" "$work/SHASUMS256.txt" | head -n 1)
curl -fsSL --retry 5 "$base/$tarball" -o "$work/$tarball"
(cd "$work" && grep " $tarball\\$" SHASUMS256.txt | sha256sum -c -)
tar -xJf "$work/$tarball" -C /usr/local --strip-components=1 --no-same-owner
rm -rf "$work"

curl -fsSL --retry 5 "https://aws-codedeploy-${region}.s3.${region}.amazonaws.com/latest/install" -o /tmp/codedeploy-install
chmod +x /tmp/codedeploy-install
# The installer downloads the pinned package over HTTPS from the same AWS bucket; -v stops it taking "latest".
/tmp/codedeploy-install auto -v ${CODEDEPLOY_AGENT_PACKAGE}
rm -f /tmp/codedeploy-install
${checks}
`;
}
