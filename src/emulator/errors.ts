/**
 * KO answers. The first group are messages seen on the real service; the `#7xx` group are the
 * emulator's choices for cases the doc does not describe (listed in docs/EMULATOR.md).
 */
export class ApiError extends Error {
  constructor(
    /** HTTP status of the KO answer; 200 for logical refusals, as the service does for #312. */
    readonly httpStatus: number,
    /** Always ends with ` #NNN`. */
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export const FLOOD_MESSAGE = 'Flood detected: IP Locked #374'

export const ko = {
  notAuthenticated: () => new ApiError(401, 'Not authenticated #247'),
  notFound: () => new ApiError(404, 'Resource not found #469'),
  flood: () => new ApiError(403, FLOOD_MESSAGE),
  noFileRenamed: () => new ApiError(200, 'No file has been renamed #312'),
  noFolderMoved: () => new ApiError(200, 'No folder has been moved #312'),
  passwordMissing: () => new ApiError(403, 'Password not provided. Resource not allowed #631'),
  passwordInvalid: () => new ApiError(403, 'Invalid password. Resource not allowed #631'),
  notAllowed: () => new ApiError(403, 'Resource not allowed #631'),

  // Emulator's choices.
  badContentType: () => new ApiError(400, 'Content-Type must be application/json #701'),
  invalidJson: () => new ApiError(400, 'Invalid JSON request #702'),
  emptyBody: () => new ApiError(400, 'Empty request, JSON body required #702'),
  methodNotAllowed: () => new ApiError(405, 'Method not allowed #703'),
  unknownCall: () => new ApiError(404, 'Unknown API call #704'),
  badParameter: (name: string) => new ApiError(400, `Invalid or missing parameter ${name} #705`),
  invalidName: (problem: string) => new ApiError(200, `Invalid name (${problem}) #706`),
  folderExists: () => new ApiError(200, 'A folder with this name already exists #707'),
  folderNotEmpty: () => new ApiError(200, 'Folder not empty #708'),
  rootFolder: () => new ApiError(200, 'The root folder cannot be removed or moved #709'),
  folderIntoItself: () => new ApiError(200, 'A folder cannot be moved into itself or its sub-folders #710'),
  passwordTooShort: () => new ApiError(200, 'Password too short, 6 characters minimum #711'),
  singleUrlOnly: (field: string) => new ApiError(200, `${field} is only allowed with one url #712`),
  quotaExceeded: () => new ApiError(200, 'Not enough space left on the account #713'),
  bodyTooLarge: () => new ApiError(413, 'Request too large #714'),
  internal: () => new ApiError(500, 'Internal error #715'),
  nothingToChange: () => new ApiError(200, 'No attribute to change #716'),
}
