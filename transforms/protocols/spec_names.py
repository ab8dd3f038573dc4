"""Segment Spec vocabulary used by the naming lint (data only).

``SPEC_EVENTS`` maps every Segment Spec event name to the list of common custom names that
duplicate it (compared case- and punctuation-insensitively).  ``SPEC_KEYS`` are property and
trait names the Spec itself defines (some are camelCase, such as the reserved traits); the case
check never flags them.  Sources: segment-docs ``src/connections/spec/*.md``.
"""

from __future__ import annotations

SPEC_EVENTS: dict[str, list[str]] = {
    # Ecommerce v2
    "Products Searched": ["Product Searched", "Search Performed", "Search Submitted", "Searched"],
    "Product List Viewed": ["Category Viewed", "Product Category Viewed", "Collection Viewed"],
    "Product List Filtered": ["Products Filtered", "Filter Applied", "Product Filter Applied"],
    "Promotion Viewed": ["Promo Viewed", "Banner Viewed"],
    "Promotion Clicked": ["Promo Clicked", "Banner Clicked"],
    "Product Clicked": ["Item Clicked", "Product Tapped", "Product Selected"],
    "Product Viewed": ["Item Viewed", "Product Page Viewed", "Product Detail Viewed",
                       "Product Details Viewed", "Viewed Product"],
    "Product Added": ["Add To Cart", "Added To Cart", "Item Added To Cart", "Cart Item Added",
                      "Product Added To Cart", "Item Added", "Added Product"],
    "Product Removed": ["Removed From Cart", "Item Removed From Cart", "Cart Item Removed",
                        "Product Removed From Cart", "Item Removed"],
    "Cart Viewed": ["Basket Viewed", "Shopping Cart Viewed", "View Cart", "Viewed Cart"],
    "Checkout Started": ["Checkout Initiated", "Checkout Began", "Begin Checkout",
                         "Started Checkout", "Checkout Begun"],
    "Checkout Step Viewed": ["Checkout Page Viewed"],
    "Checkout Step Completed": ["Checkout Page Completed"],
    "Payment Info Entered": ["Payment Details Entered", "Payment Method Added",
                             "Billing Info Entered"],
    "Order Updated": ["Order Modified", "Order Changed"],
    "Order Completed": ["Purchase Made", "Purchase Completed", "Order Placed", "Order Submitted",
                        "Checkout Completed", "Transaction Completed", "Order Confirmed",
                        "Completed Order", "Purchased"],
    "Order Refunded": ["Refund Issued", "Refund Processed", "Refund Completed"],
    "Order Cancelled": ["Order Canceled", "Order Aborted"],
    "Coupon Entered": ["Promo Code Entered", "Discount Code Entered", "Voucher Entered"],
    "Coupon Applied": ["Promo Code Applied", "Discount Applied", "Discount Code Applied",
                       "Voucher Applied"],
    "Coupon Denied": ["Promo Code Denied", "Promo Code Rejected", "Coupon Rejected",
                      "Discount Code Rejected"],
    "Coupon Removed": ["Promo Code Removed", "Discount Removed"],
    "Product Added to Wishlist": ["Item Wishlisted", "Product Wishlisted", "Added To Wishlist",
                                  "Wishlist Item Added"],
    "Product Removed from Wishlist": ["Removed From Wishlist", "Wishlist Item Removed"],
    "Wishlist Product Added to Cart": ["Wishlist Item Added To Cart"],
    "Product Shared": ["Item Shared"],
    "Cart Shared": ["Basket Shared"],
    "Product Reviewed": ["Review Submitted", "Review Posted", "Product Rated"],
    # B2B SaaS
    "Signed Up": ["Sign Up", "User Signed Up", "Registration Completed", "Sign Up Completed"],
    "Signed In": ["Logged In", "Log In", "Login", "User Logged In", "Sign In", "User Signed In",
                  "Login Completed"],
    "Signed Out": ["Logged Out", "Log Out", "Logout", "User Logged Out", "Sign Out"],
    "Account Created": ["Organization Created", "Workspace Created"],
    "Account Deleted": ["Organization Deleted", "Workspace Deleted"],
    "Invite Sent": ["Invitation Sent", "User Invited", "Invite Created"],
    "Account Added User": ["User Added To Account", "Member Added"],
    "Account Removed User": ["User Removed From Account", "Member Removed"],
    "Trial Started": ["Trial Began", "Free Trial Started"],
    "Trial Ended": ["Trial Expired", "Trial Finished", "Free Trial Ended"],
    # Mobile
    "Application Installed": ["App Installed", "App Install"],
    "Application Opened": ["App Opened", "App Launched", "Application Launched", "App Open"],
    "Application Backgrounded": ["App Backgrounded", "App Sent To Background"],
    "Application Foregrounded": ["App Foregrounded", "App Resumed"],
    "Application Updated": ["App Updated", "App Upgraded", "Application Upgraded"],
    "Application Uninstalled": ["App Uninstalled", "App Removed"],
    "Application Crashed": ["App Crashed"],
    "Install Attributed": ["App Install Attributed", "Attribution Received"],
    "Push Notification Received": ["Push Received", "Notification Received"],
    "Push Notification Tapped": ["Push Opened", "Push Clicked", "Notification Opened",
                                 "Notification Tapped", "Push Tapped"],
    "Push Notification Bounced": ["Push Bounced", "Notification Bounced"],
    "Deep Link Opened": ["Deeplink Opened", "Deep Link Launched"],
    "Deep Link Clicked": ["Deeplink Clicked", "Deep Link Tapped"],
    # Video
    "Video Playback Started": ["Video Started", "Video Play Started", "Video Played",
                               "Play Started"],
    "Video Playback Paused": ["Video Paused"],
    "Video Playback Interrupted": ["Video Interrupted"],
    "Video Playback Buffer Started": ["Video Buffering Started", "Buffer Started"],
    "Video Playback Buffer Completed": ["Video Buffering Completed", "Buffer Completed"],
    "Video Playback Seek Started": ["Video Seek Started", "Seek Started"],
    "Video Playback Seek Completed": ["Video Seek Completed", "Seek Completed", "Video Seeked"],
    "Video Playback Resumed": ["Video Resumed"],
    "Video Playback Completed": ["Video Completed", "Video Finished", "Video Ended",
                                 "Video Watched"],
    "Video Playback Exited": ["Video Exited", "Video Closed"],
    "Video Content Started": ["Content Started"],
    "Video Content Playing": ["Content Playing", "Video Heartbeat"],
    "Video Content Completed": ["Content Completed"],
    "Video Ad Started": ["Ad Started"],
    "Video Ad Playing": ["Ad Playing"],
    "Video Ad Completed": ["Ad Completed"],
    # Email (Segment Spec: Email)
    "Email Bounced": [], "Email Delivered": [], "Email Link Clicked": ["Email Clicked"],
    "Email Marked as Spam": ["Email Spam Reported"], "Email Opened": [],
    "Unsubscribed": ["Email Unsubscribed", "Unsubscribe Clicked"],
    # Copilot (Segment Spec: Copilot)
    "Conversation Started": [], "Conversation Ended": [], "Message Sent": [],
    "Message Received": [], "Action Invoked": [], "Media Generated": [],
    "Component Loaded": [], "Feedback Submitted": [], "Item Purchased": [],
}

SPEC_KEYS: frozenset[str] = frozenset(
    # Identify reserved traits and address / company sub-traits
    "address age avatar birthday company createdAt description email firstName gender id "
    "lastName name phone title username website city country postalCode state street "
    "employee_count industry plan employees "
    # Copilot spec properties
    "conversationId messageId itemId itemName itemPrice "
    # Segment top-level / context fields that appear inside payloads
    "userId anonymousId groupId previousId".split()
)
