/**
 * Headless Chromium for the report's browser check: the system's browser (Debian's `chromium`,
 * installed by `npm run setup`; Google Chrome in CI's -browsers image) driven by playwright-core,
 * which downloads nothing. A fresh profile per launch, removed on close; flags that stop
 * Chromium's own background traffic, so the page's requests are the only ones.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

export const CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] as const;

export class ChromiumMissingError extends Error {
  override readonly name = "ChromiumMissingError";
  constructor(path: string) {
    super(`Chromium is not installed at ${path}: run \`npm run setup\` (installs Debian's chromium package) or point CHROMIUM_PATH at a Chromium/Chrome binary`);
  }
}

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(executablePath = DEFAULT_CHROMIUM): Promise<Browser> {
  if (!existsSync(executablePath)) throw new ChromiumMissingError(executablePath);
  const profile = await mkdtemp(join(tmpdir(), "mpg13-chromium-"));
  try {
    // launchPersistentContext is how playwright takes a --user-data-dir: a fresh one per launch.
    const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: [...CHROMIUM_FLAGS], timeout: 30_000 });
    return {
      context,
      close: async () => {
        try {
          await context.close();
        } finally {
          await rm(profile, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
}
