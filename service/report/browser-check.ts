/**
 * Opens index.html in the browser and reads back what a person would see: for each figure, its
 * drawn size and the number of drawn marks per named layer; every console error, page error and
 * request the page made (it must make none but itself); and a full-page screenshot.
 */
import { pathToFileURL } from "node:url";
import type { Browser } from "./browser.js";

/** The few DOM members the check reads (the project compiles without the DOM library). */
interface PageElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
  getBoundingClientRect(): { width: number; height: number };
  readonly classList: ArrayLike<string>;
  readonly children: { readonly length: number };
}

export interface RenderedFigure {
  readonly id: string;
  readonly width: number;
  readonly height: number;
  /** Layer name -> number of drawn items (SVG children of its `<name>_marks` groups). */
  readonly marks: Record<string, number>;
}

export interface PageCheck {
  readonly figures: RenderedFigure[];
  readonly consoleErrors: string[];
  /** Requests other than the page itself (a self-contained page makes none). */
  readonly otherRequests: string[];
  readonly title: string;
}

export async function checkPage(browser: Browser, htmlPath: string, screenshotPath: string): Promise<PageCheck> {
  const page = await browser.context.newPage();
  const url = pathToFileURL(htmlPath).href;
  const consoleErrors: string[] = [];
  const otherRequests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    if (r.url() !== url) otherRequests.push(r.url());
  });
  try {
    const response = await page.goto(url, { waitUntil: "load", timeout: 15_000 });
    if (!response?.ok()) throw new Error(`the browser could not open ${url}`);
    const figures = await page.$$eval("figure[data-chart]", (nodes) =>
      (nodes as unknown as PageElement[]).map((figure) => {
        const svg = figure.querySelector("svg");
        const box = svg?.getBoundingClientRect();
        const marks: Record<string, number> = {};
        for (const group of Array.from(figure.querySelectorAll("g.role-mark"))) {
          const name = Array.from(group.classList).find((c) => c.endsWith("_marks"));
          if (name) marks[name.replace(/_marks$/, "")] = (marks[name.replace(/_marks$/, "")] ?? 0) + group.children.length;
        }
        return { id: figure.getAttribute("data-chart") ?? "", width: box?.width ?? 0, height: box?.height ?? 0, marks };
      }),
    );
    await page.screenshot({ path: screenshotPath, fullPage: true });
    return { figures, consoleErrors, otherRequests, title: await page.title() };
  } finally {
    await page.close();
  }
}
