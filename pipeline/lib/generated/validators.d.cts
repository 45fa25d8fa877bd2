// The types of validators.cjs, which scripts/generate-validators.ts writes from schemas/*.schema.json.
import type { ValidateFunction } from 'ajv';

/** Validates `pack.yaml` (schemas/pack.schema.json). */
export declare const pack: ValidateFunction;
/** Validates a briefing's front matter (schemas/briefing.schema.json). */
export declare const briefing: ValidateFunction;
