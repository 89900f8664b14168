// The main block of the bench's one-shot children (bench/scaleUp.ts, bench/dnsLoad.ts): the job as JSON in
// the first argument, the result as one line of JSON on stdout, a message and exit code 1 on failure.
export async function runChild<Job, Result>(script: string, measure: (job: Job) => Promise<Result>): Promise<void> {
  const json = process.argv[2];
  if (!json) {
    process.stderr.write(`usage: node --import tsx bench/${script} '<job-json>'\n`);
    process.exit(2);
  }
  try {
    process.stdout.write(`${JSON.stringify(await measure(JSON.parse(json) as Job))}\n`);
  } catch (error) {
    process.stderr.write(`${script}: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
