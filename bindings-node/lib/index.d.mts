// Types of the ESM entry point: the same API as the CommonJS one, plus a default export.
import * as turnout from './index.js'
export * from './index.js'
export default turnout
