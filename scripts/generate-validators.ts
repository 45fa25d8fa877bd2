/**
 * Writes `pipeline/lib/generated/validators.cjs`, the schemas of `schemas/` compiled by ajv.
 *
 *   npx tsx scripts/generate-validators.ts
 */
import { writeFile } from 'node:fs/promises';
import { generatedValidatorsPath, validatorCode } from '../pipeline/lib/validator-code.ts';

await writeFile(generatedValidatorsPath, validatorCode());
process.stdout.write(`Wrote ${generatedValidatorsPath}\n`);
