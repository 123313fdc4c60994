// `node --import ./ts-register.mjs child.ts`: registers ./ts-loader.mjs (see there for why not tsx).
import { register } from 'node:module'

register('./ts-loader.mjs', import.meta.url)
