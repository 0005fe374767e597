/**
 * Runs a benchmark's main and exits with its outcome (0, or 1 with the error printed), so a
 * benchmark never hangs on a handle its shutdown missed.
 */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
