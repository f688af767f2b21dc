/** Progress lines of table1-extended, on stderr. */
export function log(m: string): void {
  console.error(`table1-extended: ${m}`);
}
