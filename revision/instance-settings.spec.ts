import { describe, expect, it } from "vitest";
import { DEBIAN_BOOKWORM, UBUNTU_NOBLE } from "./image.js";
import { instanceSettings } from "./instance-settings.js";

describe("instance settings from the environment", () => {
  it("defaults to Debian bookworm from Debian's mirror, the XDG cache, the vendored agent, auto mode", () => {
    expect(instanceSettings({ HOME: "/home/u" })).toEqual({ cacheDir: "/home/u/.cache/mpg-model", agentDir: undefined, image: DEBIAN_BOOKWORM, mode: "auto" });
    expect(instanceSettings({ HOME: "/home/u", XDG_CACHE_HOME: "/c", CODEDEPLOY_AGENT_DIR: "/a" })).toMatchObject({ cacheDir: "/c/mpg-model", agentDir: "/a" });
  });

  it("builds Ubuntu noble when asked, and takes single-field overrides", () => {
    expect(instanceSettings({ HOME: "/h", INSTANCE_IMAGE: "ubuntu-noble" }).image).toEqual(UBUNTU_NOBLE);
    expect(instanceSettings({ HOME: "/h", INSTANCE_MIRROR: "http://mirror.example/debian", INSTANCE_COMPONENTS: "main, contrib" }).image).toEqual({
      ...DEBIAN_BOOKWORM,
      mirror: "http://mirror.example/debian",
      components: ["main", "contrib"],
    });
  });

  it("rejects unknown images and modes, a mirror that is no URL, and a missing cache folder, naming the variable", () => {
    expect(() => instanceSettings({ HOME: "/h", INSTANCE_IMAGE: "fedora" })).toThrow(/debian-bookworm or ubuntu-noble[\s\S]*at INSTANCE_IMAGE/);
    expect(() => instanceSettings({ HOME: "/h", INSTANCE_MODE: "vm" })).toThrow(/auto, container or namespace[\s\S]*at INSTANCE_MODE/);
    expect(() => instanceSettings({ HOME: "/h", INSTANCE_MIRROR: "deb.debian.org" })).toThrow(/INSTANCE_\*[\s\S]*http\(s\) URL[\s\S]*at mirror/);
    expect(() => instanceSettings({})).toThrow(/neither XDG_CACHE_HOME nor HOME is set/);
  });
});
