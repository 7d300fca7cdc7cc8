/* shmap — share guest memory between a VMM front end and device back ends.
 *
 * Umbrella header: includes every layer. See docs/ for the guide.
 */
#ifndef SHMAP_H
#define SHMAP_H

#include "shmap/version.h"
#include "shmap/error.h"
#include "shmap/mappable.h"
#include "shmap/window.h"
#include "shmap/wire.h"
#include "shmap/channel.h"
#include "shmap/region.h"

#endif /* SHMAP_H */
