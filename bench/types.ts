/** Each benchmark module exports `run(): Promise<BenchSection>`; bench/run.ts collects them into BENCHMARKS.md. */
export interface BenchSection {
  /** Heading in BENCHMARKS.md. */
  title: string;
  /** The command that produced it, e.g. `npm run bench -- search`. */
  command: string;
  /** Markdown body: a table of figures, each next to its goal from the issue. */
  markdown: string;
}
